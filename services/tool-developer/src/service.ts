import type {
  Payload,
  Reply,
  TaskEvent,
  TaskUsage,
  ToolBuildResult,
  ToolBuildWork,
  ToolRepair,
} from "@insitu/contracts";
import { ToolBuildResultSchema } from "@insitu/contracts";
import {
  type CallLimits,
  type LanguageModel,
  type Usage,
  emptyUsage,
  usageOfError,
  withCallLimits,
} from "@insitu/llm";
import { ErrorCode, InsituError } from "@insitu/errors";
import type { Logger } from "@insitu/telemetry";
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

export type { StepStore } from "@insitu/roles";
import type { StepStore, WorkHooks } from "@insitu/roles";

export interface DeveloperRegistry {
  /** Registers a version into the task's private pool; returns its version id. Idempotent by content. */
  register(input: {
    taskId: string;
    source: ToolSourceInput;
    evidence: BuildEvidence;
    parents: string[];
  }): Promise<{ version: string }>;
  get(version: string): Promise<ToolSourceInput>;
}

export interface ToolDeveloperDeps {
  model: LanguageModel;
  check(code: string): Promise<CheckReport>;
  test(source: ToolSourceInput): Promise<TestReport>;
  exec(source: ToolSourceInput, input: unknown): Promise<ToolOutcome>;
  registry: DeveloperRegistry;
  steps: StepStore;
  /** Wakes the manager: `build-done` for this step (idempotent). */
  notifyManager(taskId: string, step: string): Promise<void>;
  emit(event: TaskEvent): Promise<void>;
  costOf(usage: Usage): number;
  libraries: string[];
  maxAttempts: number;
  now(): Date;
  logger: Logger;
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
  const taskUsage = (usage: Usage): TaskUsage => ({
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    costUsd: deps.costOf(usage),
    toolCalls: 0,
  });

  const emit = async (event: TaskEvent): Promise<void> => {
    try {
      await deps.emit(event);
    } catch (error) {
      deps.logger.warn("could not publish a task event", { error, kind: event.kind });
    }
  };

  async function buildOnce(
    work: Payload<typeof ToolBuildWork>,
    hooks: Partial<WorkHooks>,
    time: () => string,
  ): Promise<ToolBuildResult> {
    const developed = await developTool(
      work.request,
      renderBuildPrompt(work.request, work.question, deps.libraries),
      {
        ...developPorts(deps, hooks),
        // Every request of the build stays inside the task's remaining tokens and wall time.
        model: withCallLimits(deps.model, callLimitsOf(work)),
        onAttempt: (attempt) => {
          void emit({
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
      const { version } = await deps.registry.register({
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
        usage: taskUsage(developed.usage),
      };
    } else {
      result = {
        ok: false,
        name: work.request.name,
        attempts: developed.attempts,
        reason: developed.reason,
        usage: taskUsage(developed.usage),
      };
    }
    return result;
  }

  /** One `tool-developer.build` message. Idempotent: a stored result is only re-announced. */
  async function handleBuild(
    work: Payload<typeof ToolBuildWork>,
    hooks: Partial<WorkHooks> = {},
  ): Promise<ToolBuildResult> {
    const logger = deps.logger.child({ taskId: work.taskId, step: work.step, tool: work.request.name });
    const stored = ToolBuildResultSchema.safeParse(await deps.steps.get(work.taskId, work.step));
    if (stored.success) {
      logger.info("build already done; re-announcing it");
      await deps.notifyManager(work.taskId, work.step);
      return stored.data;
    }
    const time = () => deps.now().toISOString();
    await emit({
      kind: "tool-build-start",
      taskId: work.taskId,
      time: time(),
      round: work.round,
      name: work.request.name,
      description: work.request.description,
    });
    let result: ToolBuildResult;
    try {
      result = await buildOnce(work, hooks, time);
    } catch (error) {
      const failure = InsituError.from(error);
      // Transient trouble (sandbox or registry unreachable) is retried by redelivery; on the last
      // delivery, or for an error that will not go away, the manager gets a failed build to re-plan on.
      if (failure.retryable && !hooks.lastDelivery) throw failure;
      logger.error("build failed for good", { error: failure });
      result = {
        ok: false,
        name: work.request.name,
        attempts: 0,
        reason: `${failure.code}: ${failure.message}`.slice(0, 8000),
        // What the failed build spent is the task's all the same (ADR 0060).
        usage: taskUsage(usageOfError(failure) ?? emptyUsage()),
      };
    }
    // Commit the result first, then tell the manager; the bus acks our work only after this returns.
    await deps.steps.put(work.taskId, work.step, result);
    await deps.notifyManager(work.taskId, work.step);
    await emit({
      kind: "tool-build-end",
      taskId: work.taskId,
      time: time(),
      round: work.round,
      name: result.name,
      ok: result.ok,
      ...(result.version ? { version: result.version } : {}),
      ...(result.reason ? { reason: result.reason.slice(0, 4000) } : {}),
    });
    logger.info("build finished", { ok: result.ok, attempts: result.attempts, version: result.version });
    return result;
  }

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
        usage: taskUsage(usageOfError(failure) ?? emptyUsage()),
      };
    }
    if (!developed.ok) {
      return {
        ok: false,
        reason: developed.reason,
        attempts: developed.attempts,
        usage: taskUsage(developed.usage),
      };
    }
    const { version } = await deps.registry.register({
      taskId: request.taskId,
      source: developed.source,
      evidence: developed.evidence,
      parents: [request.tool.version],
    });
    return { ok: true, version, attempts: developed.attempts, usage: taskUsage(developed.usage) };
  }

  return { handleBuild, handleRepair };
}

export type ToolDeveloper = ReturnType<typeof createToolDeveloper>;
