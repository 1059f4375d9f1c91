import type { Reply, SandboxTest, SignedTestReport, ToolCallOutcome, ToolRequest } from "@insitu/contracts";
import {
  type LanguageModel,
  type Message,
  type Usage,
  emptyUsage,
  generateObject,
  usageOfError,
  withUsage,
} from "@insitu/llm";
import {
  type ToolManifest,
  type ToolOutcome,
  type ToolTestCase,
  type ToolTestResult,
  ToolPermissionsSchema,
  ToolTestsSchema,
  parseManifest,
} from "@insitu/tool-kit";
import { z } from "zod";
import { InsituError } from "@insitu/errors";
import { composeModule } from "./compose.js";
import { describeOutcome, responseSchemaFor } from "@insitu/roles";
import { renderPrompt } from "./template.js";

/** What the model answers when it writes (or repairs) a tool. */
export const DraftSchema = z.object({
  code: z.string().min(1).max(200_000),
  tests: ToolTestsSchema.min(1),
  permissions: ToolPermissionsSchema.default({ network: [], secrets: [] }),
  notes: z.string().max(4000).optional(),
});
export type Draft = z.infer<typeof DraftSchema>;
const DRAFT_RESPONSE_SCHEMA = responseSchemaFor(DraftSchema);

export interface CheckReport {
  ok: boolean;
  diagnostics: { line?: number; code: string; message: string; source?: string }[];
  manifestIssues?: { path: string; message: string }[];
}

/**
 * What a build reads of the sandbox's `sandbox.test` reply: the verdict, the cases, and the run as
 * the sandbox signed it (ADR 0125) — the registry admits a version only on that.
 */
export type TestReport = Pick<Reply<typeof SandboxTest>, "passed" | "report"> & { results: ToolTestResult[] };

export interface ToolSourceInput {
  manifest: ToolManifest;
  code: string;
  tests: ToolTestCase[];
}

/** Evidence kept with a registered version: how it was admitted. */
export interface BuildEvidence {
  attempts: number;
  check: { ok: true };
  tests: { total: number; passed: number; names: string[] };
  /** The sandbox's signed report of the passing run, passed to the registry unchanged. */
  report: SignedTestReport;
  replays?: { input: unknown; status: string }[];
  notes?: string;
}

/** The outside world of the developer; plain functions so unit tests pass fakes. */
export interface DeveloperDeps {
  model: LanguageModel;
  check(code: string): Promise<CheckReport>;
  test(source: ToolSourceInput): Promise<TestReport>;
  exec(source: ToolSourceInput, input: unknown): Promise<ToolOutcome>;
  /** Import specifiers tools may use (the sandbox's vetted set), shown to the model. */
  libraries: string[];
  maxAttempts: number;
  heartbeat?: () => void;
  onAttempt?: (attempt: AttemptReport) => void;
  signal?: AbortSignal;
}

export interface AttemptReport {
  attempt: number;
  result: "invalid" | "check-failed" | "tests-failed" | "passed";
  diagnostics?: string;
  testsPassed?: number;
  testsTotal?: number;
}

export type DevelopResult =
  | { ok: true; source: ToolSourceInput; evidence: BuildEvidence; attempts: number; usage: Usage }
  | { ok: false; reason: string; attempts: number; usage: Usage };

const MIN_TESTS = 2;

function manifestFor(request: ToolRequest, permissions: Draft["permissions"]): unknown {
  return {
    name: request.name,
    description: request.description,
    inputSchema: request.input_schema,
    outputSchema: request.output_schema,
    permissions,
  };
}

function formatLibraries(libraries: string[]): string {
  return libraries.length === 0 ? "  (none)" : libraries.map((item) => `  - \`${item}\``).join("\n");
}

export function renderBuildPrompt(
  request: ToolRequest,
  question: string | undefined,
  libraries: string[],
): string {
  return renderPrompt("build", {
    name: request.name,
    description: request.description,
    inputSchema: JSON.stringify(request.input_schema, null, 2),
    outputSchema: JSON.stringify(request.output_schema, null, 2),
    question: question?.trim() ? question.trim().slice(0, 4000) : "(not given)",
    libraries: formatLibraries(libraries),
  });
}

/**
 * Write → validate → type-check → test → feed the problems back, at most `maxAttempts` times.
 * Returns the passing source with its evidence, or why it never passed.
 */
export async function developTool(
  request: ToolRequest,
  initialPrompt: string,
  deps: DeveloperDeps,
  options: { taskId?: string; replayInputs?: unknown[] } = {},
): Promise<DevelopResult> {
  const usage = emptyUsage();
  const messages: Message[] = [{ role: "user", content: initialPrompt }];
  let lastProblem = "no attempt was made";
  for (let attempt = 1; attempt <= deps.maxAttempts; attempt++) {
    deps.heartbeat?.();
    let generated: Awaited<ReturnType<typeof generateObject<Draft>>>;
    try {
      generated = await generateObject(
        deps.model,
        {
          system: "You are the Tool Developer of insitu. Reply with JSON only.",
          responseSchema: DRAFT_RESPONSE_SCHEMA,
          messages,
          taskId: options.taskId,
          signal: deps.signal,
        },
        DraftSchema,
      );
    } catch (error) {
      // The failed call's usage and every earlier attempt's travel with the error (ADR 0060).
      const spent = usageOfError(error);
      if (spent) addUsage(usage, spent);
      throw withUsage(InsituError.from(error), usage);
    }
    addUsage(usage, generated.usage);
    const draft = generated.object;
    messages.push({ role: "model", content: generated.result.text });
    deps.heartbeat?.();

    const verdict = await evaluateDraft(request, draft, deps, options.replayInputs ?? []);
    deps.onAttempt?.({ attempt, ...verdict.report });
    if (verdict.ok) {
      return {
        ok: true,
        source: verdict.source,
        evidence: { ...verdict.evidence, attempts: attempt, notes: draft.notes },
        attempts: attempt,
        usage,
      };
    }
    lastProblem = `${verdict.report.result}: ${verdict.report.diagnostics ?? ""}`.trim();
    messages.push({
      role: "user",
      content: renderPrompt("feedback", {
        attempt,
        maxAttempts: deps.maxAttempts,
        stage: describeStage(verdict.report.result),
        diagnostics: verdict.report.diagnostics ?? "(no details)",
      }),
    });
  }
  return {
    ok: false,
    reason: `no version passed after ${deps.maxAttempts} attempts; last problem — ${lastProblem}`.slice(
      0,
      8000,
    ),
    attempts: deps.maxAttempts,
    usage,
  };
}

function describeStage(result: AttemptReport["result"]): string {
  switch (result) {
    case "invalid":
      return "the answer or the manifest is invalid";
    case "check-failed":
      return "the module does not type-check (`deno check`)";
    case "tests-failed":
      return "some tests failed in the sandbox";
    default:
      return result;
  }
}

type DraftVerdict =
  | { ok: true; source: ToolSourceInput; evidence: BuildEvidence; report: Omit<AttemptReport, "attempt"> }
  | { ok: false; report: Omit<AttemptReport, "attempt"> };

async function evaluateDraft(
  request: ToolRequest,
  draft: Draft,
  deps: DeveloperDeps,
  replayInputs: unknown[],
): Promise<DraftVerdict> {
  const parsed = parseManifest(manifestFor(request, draft.permissions));
  if (!parsed.ok) {
    return {
      ok: false,
      report: {
        result: "invalid",
        diagnostics: `The manifest built from the request and your permissions is invalid:\n${parsed.issues
          .map((issue) => `- ${issue.path}: ${issue.message}`)
          .join("\n")}`,
      },
    };
  }
  const manifest = parsed.manifest;
  if (draft.tests.length < MIN_TESTS || !draft.tests.some((test) => (test.expect.outcome ?? "ok") === "ok")) {
    return {
      ok: false,
      report: {
        result: "invalid",
        diagnostics: `Write at least ${MIN_TESTS} tests, at least one of them a normal call that must succeed (no "outcome", or "outcome": "ok").`,
      },
    };
  }
  const code = composeModule(manifest, draft.code);
  const check = await deps.check(code);
  deps.heartbeat?.();
  if (!check.ok) {
    const lines = check.diagnostics
      .slice(0, 20)
      .map(
        (item) =>
          `- ${item.code}${item.line ? ` line ${item.line}` : ""}: ${item.message}${item.source ? `\n    ${item.source}` : ""}`,
      );
    for (const issue of check.manifestIssues ?? []) lines.push(`- manifest ${issue.path}: ${issue.message}`);
    return {
      ok: false,
      report: {
        result: "check-failed",
        diagnostics: `deno check reported (line numbers count the manifest export the system puts in front of your code):\n${lines.join("\n")}`,
      },
    };
  }
  const source: ToolSourceInput = { manifest, code, tests: draft.tests };
  const tested = await deps.test(source);
  deps.heartbeat?.();
  const passedCount = tested.results.filter((result) => result.passed).length;
  if (!tested.passed) {
    const failing = tested.results
      .filter((result) => !result.passed)
      .slice(0, 10)
      .map((result) => `- test "${result.name}" (${result.status}): ${result.failures.join("; ")}`);
    return {
      ok: false,
      report: {
        result: "tests-failed",
        diagnostics: `${passedCount} of ${tested.results.length} tests passed. Failing:\n${failing.join("\n")}`,
        testsPassed: passedCount,
        testsTotal: tested.results.length,
      },
    };
  }
  const replays: { input: unknown; status: string }[] = [];
  for (const input of replayInputs) {
    const outcome = await deps.exec(source, input);
    deps.heartbeat?.();
    replays.push({ input, status: outcome.status });
    const failure = replayFailure(outcome);
    if (failure) {
      return {
        ok: false,
        report: {
          result: "tests-failed",
          diagnostics: `Your tests pass, but the replay of a failing call still fails.\nInput: ${JSON.stringify(input).slice(0, 2000)}\nResult: ${failure}`,
          testsPassed: passedCount,
          testsTotal: tested.results.length,
        },
      };
    }
  }
  return {
    ok: true,
    source,
    evidence: {
      attempts: 0,
      check: { ok: true },
      tests: {
        total: tested.results.length,
        passed: passedCount,
        names: tested.results.map((result) => result.name),
      },
      report: tested.report,
      ...(replayInputs.length > 0 ? { replays } : {}),
    },
    report: { result: "passed", testsPassed: passedCount, testsTotal: tested.results.length },
  };
}

/** Why a replay still counts as an execution failure, or undefined when it now ends normally. */
export function replayFailure(outcome: ToolOutcome): string | undefined {
  if (outcome.status !== "ok") return describeOutcome(outcome);
  if (outcome.output === null || outcome.output === undefined) return "empty output";
  return undefined;
}

export interface FailingCall {
  input: unknown;
  outcome: ToolCallOutcome;
  error: string;
}

export function renderRepairPrompt(
  source: ToolSourceInput,
  failingCalls: FailingCall[],
  libraries: string[],
): string {
  const { manifest } = source;
  const body = source.code.replace(/^export const manifest = [\s\S]*?\n};\n\n/, "");
  return renderPrompt("repair", {
    name: manifest.name,
    description: manifest.description,
    inputSchema: JSON.stringify(manifest.inputSchema, null, 2),
    outputSchema: JSON.stringify(manifest.outputSchema, null, 2),
    permissions: JSON.stringify(manifest.permissions),
    libraries: formatLibraries(libraries),
    code: body,
    tests: JSON.stringify(source.tests, null, 2),
    failingCalls: failingCalls
      .map(
        (call, index) =>
          `${index + 1}. input \`${JSON.stringify(call.input).slice(0, 2000)}\` → ${call.outcome}: ${call.error.slice(0, 2000)}`,
      )
      .join("\n"),
  });
}

/** The request a repair keeps: the tool's own interface. */
export function requestOf(manifest: ToolManifest): ToolRequest {
  return {
    name: manifest.name,
    description: manifest.description,
    input_schema: manifest.inputSchema,
    output_schema: manifest.outputSchema,
  };
}

function addUsage(target: Usage, extra: Usage): void {
  target.inputTokens += extra.inputTokens;
  target.outputTokens += extra.outputTokens;
  target.cachedTokens += extra.cachedTokens;
}
