import {
  type ExecutionResult,
  ExecutionResultSchema,
  type ExecutorRunWork,
  type Payload,
} from "@insitu/contracts";
import type { Logger } from "@insitu/telemetry";
import { type ReactDeps, runReact } from "./react.js";

export interface StepStore {
  get(taskId: string, step: string): Promise<unknown | undefined>;
  put(taskId: string, step: string, value: unknown): Promise<void>;
}

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
    hooks: { heartbeat?: () => void; signal?: AbortSignal } = {},
  ): Promise<ExecutionResult> {
    const logger = deps.logger.child({ taskId: work.taskId, step: work.step });
    const stored = ExecutionResultSchema.safeParse(await deps.steps.get(work.taskId, work.step));
    if (stored.success) {
      logger.info("round already executed; re-announcing it");
      await deps.notifyManager(work.taskId, work.step);
      return stored.data;
    }
    const result = await runReact(work, { ...deps, heartbeat: hooks.heartbeat, signal: hooks.signal });
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
