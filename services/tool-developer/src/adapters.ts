import type { Bus } from "@insitu/bus";
import {
  type Evidence,
  RegistryGet,
  RegistryRegister,
  SandboxCheck,
  SandboxExec,
  SandboxTest,
} from "@insitu/contracts";
import { DEFAULT_SANDBOX_RETRY_WINDOW_MS, withinRetryWindow } from "@insitu/roles";
import type { Logger } from "@insitu/telemetry";
import type { ToolOutcome } from "@insitu/tool-kit";
import type { BuildEvidence, CheckReport, TestReport, ToolSourceInput } from "./develop.js";
import type { DeveloperRegistry, ReviewOfVersion } from "./service.js";

/**
 * The sandbox as the build sees it. Each request is retried within `retryWindowMs` when the sandbox
 * is down or died mid-request (ADR 0094): a sandbox restarted meanwhile costs the build some
 * seconds, not the build (and with it the task's round). Check, test runs and replays have no
 * effect outside the sandbox, so running one again is safe.
 */
export function sandboxPorts(
  bus: Bus,
  timeoutMs: number,
  options: { retryWindowMs?: number; logger?: Logger } = {},
) {
  const retrying = <T>(what: string, attempt: () => Promise<T>): Promise<T> =>
    withinRetryWindow(attempt, {
      windowMs: options.retryWindowMs ?? DEFAULT_SANDBOX_RETRY_WINDOW_MS,
      onRetry: (failure, attempt, delayMs) =>
        options.logger?.warn("sandbox unavailable; retrying within the window", {
          request: what,
          attempt,
          delayMs,
          reason: failure.details.reason ?? failure.message,
        }),
    });
  return {
    async check(code: string): Promise<CheckReport> {
      return retrying("check", () => bus.request(SandboxCheck, { code }, { timeoutMs }));
    },
    async test(source: ToolSourceInput): Promise<TestReport> {
      return retrying("test", () =>
        bus.request(
          SandboxTest,
          { tool: { code: source.code, manifest: source.manifest }, tests: source.tests },
          { timeoutMs },
        ),
      );
    },
    async exec(source: ToolSourceInput, input: unknown): Promise<ToolOutcome> {
      return retrying("replay", () =>
        bus.request(
          SandboxExec,
          { tool: { code: source.code, manifest: source.manifest }, input },
          { timeoutMs },
        ),
      );
    },
  };
}

/** Evidence in the registry's vocabulary. */
export function toEvidence(evidence: BuildEvidence, now: Date): Evidence[] {
  const time = now.toISOString();
  const list: Evidence[] = [
    {
      kind: "test-run",
      summary:
        `${evidence.tests.passed}/${evidence.tests.total} tests passed in the sandbox after deno check, attempt ${evidence.attempts}${evidence.notes ? ` — ${evidence.notes}` : ""}`.slice(
          0,
          2000,
        ),
      passed: evidence.tests.passed,
      failed: evidence.tests.total - evidence.tests.passed,
      time,
    },
  ];
  if (evidence.replays && evidence.replays.length > 0) {
    list.push({
      kind: "replay",
      summary:
        `replayed ${evidence.replays.length} failing call(s): ${evidence.replays.map((replay) => replay.status).join(", ")}`.slice(
          0,
          2000,
        ),
      passed: evidence.replays.filter((replay) => replay.status === "ok").length,
      failed: evidence.replays.filter((replay) => replay.status !== "ok").length,
      time,
    });
  }
  return list;
}

export function registryPorts(bus: Bus, now: () => Date): DeveloperRegistry {
  const review = async (version: string): Promise<ReviewOfVersion | undefined> => {
    const record = await bus.request(RegistryGet, { by: "hash", hash: version });
    if (!record.review) return undefined;
    const last = record.review.decisions.at(-1);
    return {
      state: record.review.state,
      permissions: record.review.permissions
        .filter((permission) => permission.decision !== "auto")
        .map((permission) => permission.permission),
      ...(last ? { reason: `${last.reason} (${last.by})` } : {}),
    };
  };
  return {
    review,
    async register({ taskId, source, evidence, parents }) {
      const reply = await bus.request(
        RegistryRegister,
        {
          taskId,
          manifest: source.manifest,
          code: source.code,
          tests: source.tests,
          evidence: toEvidence(evidence, now()),
          // The sandbox's signed report, unchanged: the registry checks it against this source.
          testReport: evidence.report,
          ...(parents.length > 0 ? { parents, origin: "repaired" as const } : {}),
        },
        { taskId },
      );
      // Held back by the approval policy: the build needs the review to tell the task (ADR 0130).
      const held = reply.status === "pending-review" || reply.status === "rejected";
      const reviewed = held ? await review(reply.hash) : undefined;
      return { version: reply.hash, ...(reviewed ? { review: reviewed } : {}) };
    },
    async get(version) {
      const record = await bus.request(RegistryGet, { by: "hash", hash: version });
      return { manifest: record.manifest, code: record.code, tests: record.tests };
    },
  };
}
