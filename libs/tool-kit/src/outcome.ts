import { z } from "zod";
import { PermissionKind } from "./permissions.js";

/** How a tool call ended. `ok` or one of the typed failures. */
export const OutcomeStatus = {
  ok: "ok",
  invalidInput: "INVALID_INPUT",
  invalidOutput: "INVALID_OUTPUT",
  timeout: "TIMEOUT",
  memoryLimit: "MEMORY_LIMIT",
  outputLimit: "OUTPUT_LIMIT",
  permissionDenied: "PERMISSION_DENIED",
  crash: "CRASH",
} as const;
export type OutcomeStatus = (typeof OutcomeStatus)[keyof typeof OutcomeStatus];
export const OutcomeStatusSchema = z.enum([
  "ok",
  "INVALID_INPUT",
  "INVALID_OUTPUT",
  "TIMEOUT",
  "MEMORY_LIMIT",
  "OUTPUT_LIMIT",
  "PERMISSION_DENIED",
  "CRASH",
]);

export const SchemaIssueSchema = z.object({ path: z.string(), message: z.string() }).strict();

export const PermissionRefSchema = z
  .object({
    kind: z.enum(Object.values(PermissionKind) as [PermissionKind, ...PermissionKind[]]),
    target: z.string().max(1000).optional(),
  })
  .strict();

/** A file of a task's workspace, as a tool result names it. */
export const WorkspaceFileRefSchema = z
  .object({
    /** Path relative to the workspace root (the tool's working directory), `/`-separated. */
    path: z.string().min(1).max(512),
    size: z.number().int().nonnegative(),
    /** Sniffed from the content, never taken from the name. */
    mediaType: z.string().max(200),
  })
  .strict();

/** What a call with `files: "task"` left in its task's workspace. */
export const WorkspaceReportSchema = z
  .object({
    /** New or changed files that were kept. */
    saved: z.array(WorkspaceFileRefSchema).max(1000),
    /** Files that were not kept, with the reason (bad name, too big, too many …). */
    refused: z.array(z.object({ path: z.string().max(600), reason: z.string().max(500) }).strict()).max(50),
    /** Set when the whole set of written files was refused (e.g. far too many files). */
    error: z.string().max(1000).optional(),
  })
  .strict();
export type WorkspaceReport = z.infer<typeof WorkspaceReportSchema>;

/** Facts every outcome carries. */
const common = {
  /** Files kept in the task's workspace by this call (tools declaring `files: "task"` only). */
  workspace: WorkspaceReportSchema.optional(),
  /** Wall time of the call as seen by the sandbox (spawn to exit), milliseconds. */
  durationMs: z.number().nonnegative(),
  /** What the tool printed (stdout and stderr), trimmed to a few KiB. */
  logs: z.string().max(16_384).optional(),
  /**
   * Requests the sandbox's egress proxy refused during the call, even when the tool caught the
   * error and went on (an `ok` outcome may carry them).
   */
  deniedEgress: z
    .array(
      z
        .object({
          /** `host:port` as the tool asked for it. */
          target: z.string().max(300),
          method: z.string().max(20),
          reason: z.string().max(500),
          /** The resolved address that was refused, when the refusal is about an address. */
          address: z.string().max(100).optional(),
        })
        .strict(),
    )
    .max(32)
    .optional(),
};

export const ToolOutcomeSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("ok"), output: z.unknown(), ...common }).strict(),
  z.object({ status: z.literal("INVALID_INPUT"), issues: z.array(SchemaIssueSchema), ...common }).strict(),
  z
    .object({
      status: z.literal("INVALID_OUTPUT"),
      issues: z.array(SchemaIssueSchema),
      /** The start of what the tool returned, for diagnosis. */
      outputPreview: z.string().max(2000).optional(),
      ...common,
    })
    .strict(),
  z.object({ status: z.literal("TIMEOUT"), limitMs: z.number(), ...common }).strict(),
  z.object({ status: z.literal("MEMORY_LIMIT"), limitMb: z.number(), ...common }).strict(),
  z.object({ status: z.literal("OUTPUT_LIMIT"), limitBytes: z.number(), ...common }).strict(),
  z
    .object({
      status: z.literal("PERMISSION_DENIED"),
      /** The permission that was missing, e.g. {kind: "net", target: "example.com:443"}. */
      permission: PermissionRefSchema,
      message: z.string().max(2000),
      ...common,
    })
    .strict(),
  z
    .object({
      status: z.literal("CRASH"),
      message: z.string().max(2000),
      /** Stack trace trimmed to the tool's own frames. */
      stack: z.string().max(4000).optional(),
      ...common,
    })
    .strict(),
]);
export type ToolOutcome = z.infer<typeof ToolOutcomeSchema>;
export type ToolOutcomeOf<S extends OutcomeStatus> = Extract<ToolOutcome, { status: S }>;

/**
 * A recorded outcome read back (the `tool-call-results` records of keyed calls): the outcome, or
 * why the value is not one (the reader quarantines it).
 */
export function parseRecordedOutcome(value: unknown): { value: ToolOutcome } | { problem: string } {
  const parsed = ToolOutcomeSchema.safeParse(value);
  return parsed.success
    ? { value: parsed.data }
    : { problem: `not a tool outcome: ${parsed.error.issues[0]?.message ?? "wrong shape"}` };
}
