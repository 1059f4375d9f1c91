// Contracts for the sandbox domain: run a tool, type-check a tool module, run a tool's tests.
import {
  OutcomeStatusSchema,
  SchemaIssueSchema,
  SecretNameSchema,
  ToolLimitsSchema,
  ToolManifestSchema,
  ToolOutcomeSchema,
  ToolTestsSchema,
} from "@insitu/tool-kit";
import { z } from "zod";
import { SignedTestReportSchema } from "./attestation.js";
import { defineEndpoint } from "./define.js";
import { ContentHash } from "./envelope.js";
import { SandboxWorkspaceSchema } from "./files.js";

/** Largest tool module the sandbox accepts, in characters. */
export const MAX_TOOL_CODE_CHARS = 256 * 1024;

/**
 * A registered tool by content address (ADR 0160): its manifest, the version it belongs to and the
 * sha256 of its code (`computeCodeHash`). The sandbox takes the code from its cache, or once from
 * the registry (`registry.code.get`), and refuses code that does not hash to `codeHash`.
 */
export const RegisteredToolSchema = z
  .object({
    manifest: ToolManifestSchema,
    /** `computeCodeHash(code)`: sha256 over the module's exact text. */
    codeHash: ContentHash,
    /** The version's content hash (`computeToolHash`): where the registry keeps the code. */
    version: ContentHash,
  })
  .strict();

/** A draft under development (tool developer, evolver merges): its module inline. */
export const DraftToolSchema = z
  .object({
    /** The TypeScript module: `export const manifest = {...}` and `export default async function run(input)`. */
    code: z.string().min(1).max(MAX_TOOL_CODE_CHARS),
    manifest: ToolManifestSchema,
    /** Content hash of the version, when it has one (for logs and caches). */
    hash: ContentHash.optional(),
  })
  .strict();

/** The tool to run: a registered one by content address, or a draft with its code inline. */
export const SandboxToolSchema = z.union([RegisteredToolSchema, DraftToolSchema]);

export const SandboxExec = defineEndpoint({
  service: "sandbox",
  name: "exec",
  subject: "sandbox.exec",
  version: 1,
  description:
    "Runs one tool call in a fresh Deno process with least privilege and hard limits; answers with a typed outcome.",
  request: z
    .object({
      tool: SandboxToolSchema,
      /** The tool's input; validated against the manifest's input schema before the run. */
      input: z.unknown(),
      /**
       * Secret names the caller grants for this call. The tool receives the intersection of these,
       * its manifest's `permissions.secrets` and the secrets the operator configured; values never
       * travel on the bus.
       */
      grantedSecrets: z.array(SecretNameSchema).max(16).optional(),
      /** Limits for this call; each is capped by the manifest's and the operator's. */
      limits: ToolLimitsSchema.optional(),
      /**
       * The task workspace the call works in, for tools declaring `files: "task"` (ignored for
       * others): its files are copied in before the run, new or changed ones out after it.
       */
      workspace: SandboxWorkspaceSchema.optional(),
      /**
       * Identifies this call of the tool (task, step, position, input digest). With it the sandbox
       * runs the call at most once per key (ADR 0094): its outcome is recorded in
       * {@link TOOL_CALL_RESULTS_BUCKET} before the reply, and a repeat — a redelivered step after
       * the caller was killed, a retry after a lost reply — gets the recorded outcome, or joins
       * the run still in progress on any replica ({@link TOOL_CALL_CLAIMS_BUCKET}), instead of running the tool (and its side effects) again.
       */
      callKey: z
        .string()
        .min(1)
        .max(300)
        .regex(/^[A-Za-z0-9_.:=-]+$/)
        .optional(),
    })
    .strict(),
  response: ToolOutcomeSchema,
});

/** Object Store bucket of recorded tool-call outcomes, by `SandboxExec` `callKey` (kept a day). */
export const TOOL_CALL_RESULTS_BUCKET = "tool-call-results";
/** How long a recorded outcome is kept: far past any redelivery. */
export const TOOL_CALL_RESULTS_TTL_MS = 24 * 3600 * 1000;

/**
 * KV bucket of claims on keyed calls being run: the replica running a key holds its entry (renewed
 * while the call runs), so a repeat on another replica waits for the outcome instead of running it.
 * The executor keys its external (MCP) calls in the same buckets.
 */
export const TOOL_CALL_CLAIMS_BUCKET = "tool-call-claims";
/** How long a claim entry is kept (it is renewed every second while its call runs). */
export const TOOL_CALL_CLAIMS_TTL_MS = 3600 * 1000;

export const DiagnosticSchema = z
  .object({
    /** 1-based line in the tool module, when the diagnostic points at it. */
    line: z.number().int().optional(),
    column: z.number().int().optional(),
    /** TypeScript code (e.g. "TS2322") or an insitu code (e.g. "MANIFEST"). */
    code: z.string().max(40),
    message: z.string().max(2000),
    /** The offending source line, for the model to see. */
    source: z.string().max(500).optional(),
  })
  .strict();

export const SandboxCheck = defineEndpoint({
  service: "sandbox",
  name: "check",
  subject: "sandbox.check",
  version: 1,
  description:
    "Type-checks a tool module with `deno check` (cached by content hash) and reads its exported manifest; answers with diagnostics a model can act on.",
  request: z.object({ code: z.string().min(1).max(MAX_TOOL_CODE_CHARS) }).strict(),
  response: z
    .object({
      ok: z.boolean(),
      diagnostics: z.array(DiagnosticSchema).max(50),
      /** The manifest the module exports, when it could be read and parsed. */
      manifest: ToolManifestSchema.optional(),
      /** Why the exported manifest is not valid, when it is not. */
      manifestIssues: z.array(SchemaIssueSchema).optional(),
      /** True when the answer came from the content-hash cache. */
      cached: z.boolean(),
      durationMs: z.number().nonnegative(),
    })
    .strict(),
});

export const ToolTestResultSchema = z
  .object({
    name: z.string(),
    passed: z.boolean(),
    failures: z.array(z.string()),
    status: OutcomeStatusSchema,
    durationMs: z.number().nonnegative(),
    /** The outcome of the call, for a failing case (to feed back to the model). */
    outcome: ToolOutcomeSchema.optional(),
  })
  .strict();

export const SandboxTest = defineEndpoint({
  service: "sandbox",
  name: "test",
  subject: "sandbox.test",
  version: 1,
  description: "Runs a tool's test cases, each as its own sandboxed call, and judges every outcome.",
  request: z
    .object({
      tool: SandboxToolSchema,
      tests: ToolTestsSchema.min(1),
      grantedSecrets: z.array(SecretNameSchema).max(16).optional(),
    })
    .strict(),
  response: z
    .object({
      passed: z.boolean(),
      results: z.array(ToolTestResultSchema),
      durationMs: z.number().nonnegative(),
      /**
       * The run signed by the sandbox (ADR 0125): the only test evidence the registry admits a
       * version on. Passed to `registry.register` unchanged.
       */
      report: SignedTestReportSchema,
    })
    .strict(),
});
