import type { Payload, Reply, ToolBuildResult, ToolRepair } from "@insitu/contracts";
import { ToolBuildResultSchema, ToolBuildWork, ToolReviewOutcome } from "@insitu/contracts";
import { type CallLimits, type LanguageModel, type Usage, withCallLimits } from "@insitu/llm";
import { ErrorCode, InsituError } from "@insitu/errors";
import {
  type BuildEvidence,
  type CheckReport,
  type DeveloperDeps,
  type TestReport,
  type ToolSourceInput,
  developTool,
  renderBuildPrompt,
  renderRepairPrompt,
  requestOf,
} from "./develop.js";
import type { ToolOutcome } from "@insitu/tool-kit";

import { type StepContext, type WorkHooks, defineRoleStep, taskUsage, usageOfFailure } from "@insitu/roles";

export interface DeveloperRegistry {
  /**
   * Registers a version into the task's private pool; returns its version id and, when the
   * operator's approval policy holds it back, its review (docs/adr/0130). Idempotent by content.
   */
  register(input: {
    taskId: string;
    source: ToolSourceInput;
    evidence: BuildEvidence;
    parents: string[];
  }): Promise<{ version: string; review?: ReviewOfVersion }>;
  get(version: string): Promise<ToolSourceInput>;
  /** The version's review as it stands now (undefined: none was needed). */
  review(version: string): Promise<ReviewOfVersion | undefined>;
}

/** A version's review as a build sees it. */
export interface ReviewOfVersion {
  state: "pending" | "approved" | "rejected";
  /** The permissions the policy did not admit at once, e.g. `secret:API_KEY`. */
  permissions: string[];
  /** The last decision's reason, when decided. */
  reason?: string;
}

/** What a build does when its version waits for review (the policy's defaults; a task may override the mode). */
export interface ReviewSettings {
  onReview: "continue" | "wait";
  /** Longest wait for a decision in mode `wait`, ms (the task's deadline may end it sooner). */
  reviewWaitMs: number;
  /** How often a waiting build asks for the decision, ms. */
  pollMs: number;
}

export interface ToolDeveloperDeps {
  model: LanguageModel;
  check(code: string): Promise<CheckReport>;
  test(source: ToolSourceInput): Promise<TestReport>;
  exec(source: ToolSourceInput, input: unknown): Promise<ToolOutcome>;
  registry: DeveloperRegistry;
  costOf(usage: Usage): number;
  libraries: string[];
  maxAttempts: number;
  /** The approval policy's review settings (default: go on without the tool). */
  review?: ReviewSettings;
  /** The clock the review wait is measured on. */
  now(): Date;
  /** Waits, for tests; default setTimeout. */
  sleep?(ms: number): Promise<void>;
}

/** The task's remaining tokens and wall time, as a build or repair request carries them. */
function callLimitsOf(work: { taskId: string; maxTokens?: number; deadline?: string }): CallLimits {
  return {
    taskId: work.taskId,
    ...(work.maxTokens !== undefined ? { maxTokens: work.maxTokens } : {}),
    ...(work.deadline ? { deadline: Date.parse(work.deadline) } : {}),
  };
}

/** The ports `developTool` needs, from the service's deps and this delivery's hooks. */
function developPorts(deps: ToolDeveloperDeps, hooks: Partial<WorkHooks>): DeveloperDeps {
  return {
    model: deps.model,
    check: deps.check,
    test: deps.test,
    exec: deps.exec,
    libraries: deps.libraries,
    maxAttempts: deps.maxAttempts,
    heartbeat: hooks.heartbeat,
    signal: hooks.signal,
  };
}

export function createToolDeveloper(deps: ToolDeveloperDeps) {
  const usageOf = (usage: Usage) => taskUsage(usage, deps.costOf);

  async function buildOnce(
    work: Payload<typeof ToolBuildWork>,
    context: StepContext,
  ): Promise<ToolBuildResult> {
    const time = () => context.now().toISOString();
    const developed = await developTool(
      work.request,
      renderBuildPrompt(work.request, work.question, deps.libraries),
      {
        ...developPorts(deps, context),
        // Every request of the build stays inside the task's remaining tokens and wall time.
        model: withCallLimits(deps.model, callLimitsOf(work)),
        onAttempt: (attempt) => {
          void context.emit({
            kind: "tool-build-attempt",
            taskId: work.taskId,
            time: time(),
            round: work.round,
            name: work.request.name,
            ...attempt,
            diagnostics: attempt.diagnostics?.slice(0, 4000),
          });
        },
      },
      { taskId: work.taskId },
    );
    let result: ToolBuildResult;
    if (developed.ok) {
      const { version, review } = await deps.registry.register({
        taskId: work.taskId,
        source: developed.source,
        evidence: developed.evidence,
        parents: [],
      });
      result = {
        ok: true,
        name: work.request.name,
        version,
        attempts: developed.attempts,
        usage: usageOf(developed.usage),
      };
      if (review && review.state !== "approved") {
        result = await awaitReview(work, context, result, review);
      } else if (review) {
        result.review = "approved";
      }
    } else {
      result = {
        ok: false,
        name: work.request.name,
        attempts: developed.attempts,
        reason: developed.reason,
        usage: usageOf(developed.usage),
      };
    }
    return result;
  }

  /**
   * The built version waits for the operator's review (docs/adr/0130). The task is told
   * (`tool-review-pending`); then, per the task's choice or the policy's default, the build ends at
   * once without the tool (TOOL_PENDING_REVIEW: the manager re-plans as for a failed build), or
   * waits for the decision — polling the registry, beating the work message's heartbeat — until
   * it comes, the policy's wait ends or the task's deadline does.
   */
  async function awaitReview(
    work: Payload<typeof ToolBuildWork>,
    context: StepContext,
    built: ToolBuildResult,
    review: ReviewOfVersion,
  ): Promise<ToolBuildResult> {
    const version = built.version as string;
    const outcome = (state: ReviewOfVersion): ToolBuildResult => {
      if (state.state === "approved") return { ...built, review: "approved" };
      const code = state.state === "rejected" ? ToolReviewOutcome.rejected : ToolReviewOutcome.pending;
      const what =
        state.state === "rejected"
          ? `${built.name} was rejected${state.reason ? `: ${state.reason}` : ""}; do not ask for it again with these permissions`
          : `${built.name} waits for an operator's review of ${state.permissions.join(", ")}; go on without it`;
      return { ...built, ok: false, reason: `${code}: ${what}`.slice(0, 8000), review: state.state };
    };
    if (review.state === "rejected") return outcome(review);
    const settings = deps.review ?? { onReview: "continue", reviewWaitMs: 0, pollMs: 1000 };
    const waiting = (work.onReview ?? settings.onReview) === "wait";
    await context.emit({
      kind: "tool-review-pending",
      taskId: work.taskId,
      time: context.now().toISOString(),
      round: work.round,
      name: built.name,
      version,
      permissions: review.permissions,
      waiting,
    });
    if (!waiting) return outcome(review);
    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const taskDeadline = work.deadline ? Date.parse(work.deadline) : Number.POSITIVE_INFINITY;
    const until = Math.min(deps.now().getTime() + settings.reviewWaitMs, taskDeadline);
    let current = review;
    while (current.state === "pending" && deps.now().getTime() < until && !context.signal?.aborted) {
      await sleep(Math.max(1, Math.min(settings.pollMs, until - deps.now().getTime())));
      context.heartbeat?.();
      current = (await deps.registry.review(version)) ?? { state: "approved", permissions: [] };
    }
    return outcome(current);
  }

  /**
   * One `tool-developer.build` message (the step kit, docs/adr/0155): a stored result is only
   * re-announced; transient trouble (sandbox or registry unreachable) is retried by redelivery; on
   * the last delivery, or for an error that will not go away, the manager gets a failed build.
   */
  const build = defineRoleStep({
    work: ToolBuildWork,
    result: ToolBuildResultSchema,
    kind: "build-done",
    run: buildOnce,
    onFailure: (work, failure): ToolBuildResult => ({
      ok: false,
      name: work.request.name,
      attempts: 0,
      reason: `${failure.code}: ${failure.message}`.slice(0, 8000),
      // What the failed build spent is the task's all the same (ADR 0060).
      usage: usageOfFailure(failure, deps.costOf),
    }),
    announce: {
      start: (work, time) => ({
        kind: "tool-build-start",
        taskId: work.taskId,
        time,
        round: work.round,
        name: work.request.name,
        description: work.request.description,
      }),
      end: (work, result, time) => ({
        kind: "tool-build-end",
        taskId: work.taskId,
        time,
        round: work.round,
        name: result.name,
        ok: result.ok,
        ...(result.version ? { version: result.version } : {}),
        ...(result.reason ? { reason: result.reason.slice(0, 4000) } : {}),
        ...(result.review ? { review: result.review } : {}),
      }),
    },
    describe: {
      context: (work) => ({ tool: work.request.name }),
      replayed: "build already done; re-announcing it",
      failed: "build failed for good",
      done: "build finished",
      summary: (result) => ({ ok: result.ok, attempts: result.attempts, version: result.version }),
    },
  });

  /** `tool-developer.repair`: a new version from the failing calls, accepted only if the replays pass. */
  async function handleRepair(
    request: Payload<typeof ToolRepair>,
    hooks: Partial<WorkHooks> = {},
  ): Promise<Reply<typeof ToolRepair>> {
    const source = await deps.registry.get(request.tool.version);
    let developed: Awaited<ReturnType<typeof developTool>>;
    try {
      developed = await developTool(
        requestOf(source.manifest),
        renderRepairPrompt(source, request.failingCalls, deps.libraries),
        {
          ...developPorts(deps, hooks),
          // A repair spends the task's tokens and time like any other step (ADR 0090): every
          // request stays inside what the executor said is left.
          model: withCallLimits(deps.model, callLimitsOf(request)),
        },
        { taskId: request.taskId, replayInputs: request.failingCalls.map((call) => call.input) },
      );
    } catch (error) {
      const failure = InsituError.from(error);
      if (failure.code !== ErrorCode.budgetExceeded) throw failure;
      // Not a failure of the repair service: the task is out of budget. The executor charges
      // what was spent and ends the round; the manager ends the task as BUDGET_EXCEEDED.
      return {
        ok: false,
        budgetExceeded: true,
        reason: `${failure.code}: ${failure.message}`.slice(0, 8000),
        attempts: 0,
        usage: usageOfFailure(failure, deps.costOf),
      };
    }
    if (!developed.ok) {
      return {
        ok: false,
        reason: developed.reason,
        attempts: developed.attempts,
        usage: usageOf(developed.usage),
      };
    }
    const { version, review } = await deps.registry.register({
      taskId: request.taskId,
      source: developed.source,
      evidence: developed.evidence,
      parents: [request.tool.version],
    });
    if (review && review.state !== "approved") {
      // New code asking for reviewed permissions waits for the operator like any new version.
      const code = review.state === "rejected" ? ToolReviewOutcome.rejected : ToolReviewOutcome.pending;
      return {
        ok: false,
        reason:
          `${code}: the repaired version ${version} of ${source.manifest.name} needs an operator's review of ${review.permissions.join(", ")}`.slice(
            0,
            8000,
          ),
        attempts: developed.attempts,
        usage: usageOf(developed.usage),
      };
    }
    return { ok: true, version, attempts: developed.attempts, usage: taskUsage(developed.usage) };
  }

  return { build, handleRepair };
}

export type ToolDeveloper = ReturnType<typeof createToolDeveloper>;
