import {
  type ExecutionResult,
  ExecutionResultSchema,
  type ExecutorRunWork,
  type Payload,
} from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { type Usage, usageOfError } from "@insitu/llm";
import type { Logger } from "@insitu/telemetry";
import { type ReactDeps, runReact } from "./react.js";

export type { StepStore } from "@insitu/roles";
import type { StepStore, WorkHooks } from "@insitu/roles";

export interface ExecutorDeps extends Omit<ReactDeps, "heartbeat" | "signal"> {
  steps: StepStore;
  /** Wakes the manager: `execution-done` for this step (idempotent). */
  notifyManager(taskId: string, step: string): Promise<void>;
  logger: Logger;
}

export function createExecutor(deps: ExecutorDeps) {
  /** One `executor.run` message. Idempotent: a stored result is only re-announced. */
  async function handleRun(
    work: Payload<typeof ExecutorRunWork>,
    hooks: Partial<WorkHooks> = {},
  ): Promise<ExecutionResult> {
    const logger = deps.logger.child({ taskId: work.taskId, step: work.step });
    const stored = ExecutionResultSchema.safeParse(await deps.steps.get(work.taskId, work.step));
    if (stored.success) {
      logger.info("round already executed; re-announcing it");
      await deps.notifyManager(work.taskId, work.step);
      return stored.data;
    }
    let result: ExecutionResult;
    try {
      result = await runReact(work, { ...deps, heartbeat: hooks.heartbeat, signal: hooks.signal });
    } catch (error) {
      const failure = InsituError.from(error);
      // Retry transient trouble (the bus redelivers); on the last delivery, or for an error that
      // will not go away, report the failed round so the manager can re-plan instead of waiting.
      if (failure.retryable && !hooks.lastDelivery) throw failure;
      logger.error("round failed for good; reporting it", { error: failure });
      result = failedRound(failure, deps.costOf);
    }
    await deps.steps.put(work.taskId, work.step, result);
    await deps.notifyManager(work.taskId, work.step);
    logger.info("round executed", {
      steps: result.steps,
      toolCalls: result.toolCalls.length,
      capabilityRequest: result.capabilityRequest?.capability,
    });
    return result;
  }
  return { handleRun };
}

/** The result stored when a round cannot run at all (the manager's judge sees why). */
export function failedRound(error: InsituError, costOf?: (usage: Usage) => number): ExecutionResult {
  const line = `${error.code}: ${error.message}`.slice(0, 2000);
  // What the round spent before it failed is still the task's (ADR 0060).
  const spent = usageOfError(error);
  return {
    report: `## Reasoning & Plan\nThe round could not run.\n\n## Key Findings & Evidence\n- executor error ${line}\n\n## Final Conclusion\nNot found: the executor failed (${line}).`,
    conclusion: `Not found: the executor failed (${line}).`,
    stepBudgetExhausted: false,
    steps: 0,
    toolCalls: [],
    repaired: [],
    succeeded: [],
    usage: {
      inputTokens: spent?.inputTokens ?? 0,
      outputTokens: spent?.outputTokens ?? 0,
      costUsd: spent && costOf ? costOf(spent) : 0,
      toolCalls: 0,
    },
  };
}
