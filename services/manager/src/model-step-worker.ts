import {
  type JudgeStepResult,
  JudgeStepResultSchema,
  type ManagerStepWork,
  type Payload,
  type PlanStepResult,
  PlanStepResultSchema,
  type TaskUsage,
} from "@insitu/contracts";
import { ErrorCode, InsituError, isInsituError } from "@insitu/errors";
import { usageOfError } from "@insitu/llm";
import type { z } from "zod";
import type { MachineDeps } from "./machine.js";
import { chargeTo, runJudgeStep, runPlanStep } from "./model-steps.js";
import { type CallRecordStore, RecordedCalls } from "./recorded-calls.js";
import type { EffectPort, ManagerDeps, TaskStateStore, WorkOptions } from "./service.js";
import { addUsage, budgetProblem, emptyUsage } from "./state.js";

type StepWorkerDeps = MachineDeps &
  Pick<ManagerDeps, "logger" | "writeStep"> & {
    store: TaskStateStore;
    effects: EffectPort;
  };

const MAX_CHARGE_ATTEMPTS = 5;

/**
 * The Manager's plan and judge steps (queue `manager.step`, ADR 0150), run like the other roles'
 * steps: a stored result is only re-announced; otherwise the step reads the task's state (never
 * writes it, except to charge a failed attempt), makes its model calls — each answered at most
 * once per step, ADR 0119's RecordedCalls — stores its result, then wakes the state machine with
 * `plan-done` / `judge-done`. A retryable failure is handed back to the queue after its usage is
 * charged; a final one (or one that crossed the budget) is stored as a failed result.
 */
export function createModelSteps(deps: StepWorkerDeps, callRecords: CallRecordStore) {
  async function handleStep(work: Payload<typeof ManagerStepWork>, options: WorkOptions = {}): Promise<void> {
    const logger = deps.logger.child({ taskId: work.taskId, step: work.step, kind: work.kind });
    const done = {
      taskId: work.taskId,
      kind: work.kind === "plan" ? ("plan-done" as const) : ("judge-done" as const),
      step: work.step,
    };
    const schema: z.ZodType<unknown> = work.kind === "plan" ? PlanStepResultSchema : JudgeStepResultSchema;
    if ((await deps.readStep(work.taskId, work.step, schema)) !== undefined) {
      await deps.effects.enqueueManager(done);
      return;
    }
    const entry = await deps.store.get(work.taskId);
    const state = entry?.state;
    if (
      !state ||
      state.record.status !== (work.kind === "plan" ? "planning" : "judging") ||
      state.record.round !== work.round
    ) {
      logger.info("step no longer awaited (task moved on or ended); dropping it");
      return;
    }
    const calls = new RecordedCalls(work.taskId, work.step, callRecords, logger);
    const stepDeps: MachineDeps = { ...deps, ...calls.wrap(deps) };
    const spent = emptyUsage();
    let result: PlanStepResult | JudgeStepResult;
    try {
      result =
        work.kind === "plan"
          ? await runPlanStep(state, stepDeps, spent)
          : await runJudgeStep(state, stepDeps, spent);
    } catch (error) {
      const failure = InsituError.from(error);
      const lost = emptyUsage();
      const used = usageOfError(error);
      if (used) chargeTo(lost, deps, used);
      const over = budgetProblem(
        { ...state.record, usage: sum(state.record.usage, spent, lost) },
        deps.now(),
      );
      if (failure.retryable && !options.lastDelivery && failure.code !== ErrorCode.budgetExceeded && !over) {
        // The answered calls are replayed on redelivery (and charged then); the failed one is
        // charged now, or it would be lost with this attempt (ADR 0060).
        await chargeTask(work.taskId, lost);
        throw failure;
      }
      logger.warn("model step failed for good", { error: failure });
      result = {
        ok: false,
        error: { code: failure.code, message: failure.message.slice(0, 10_000) },
        usage: sum(spent, lost),
      };
    }
    await deps.writeStep(work.taskId, work.step, result);
    await deps.effects.enqueueManager(done);
  }

  /** Adds a failed attempt's usage to the task (compare-and-set; a task that ended still pays). */
  async function chargeTask(taskId: string, usage: TaskUsage): Promise<void> {
    if (usage.inputTokens + usage.outputTokens === 0 && usage.costUsd === 0) return;
    for (let attempt = 1; attempt <= MAX_CHARGE_ATTEMPTS; attempt++) {
      const entry = await deps.store.get(taskId);
      if (!entry) return;
      const charged = structuredClone(entry.state);
      addUsage(charged.record.usage, usage);
      try {
        await deps.store.update(charged, entry.revision);
        return;
      } catch (error) {
        if (!isInsituError(error, "CONFLICT")) throw error;
      }
    }
    deps.logger.warn("could not charge a failed model call; the task changed too often", { taskId });
  }

  return { handleStep };
}

function sum(...usages: TaskUsage[]): TaskUsage {
  const total = emptyUsage();
  for (const usage of usages) addUsage(total, usage);
  return total;
}

/** Plan and judge answers kept in memory (tests, and a manager without a task-steps bucket). */
export function memoryCallRecords(): CallRecordStore {
  const kept = new Map<string, unknown>();
  return {
    async get(taskId, step) {
      return structuredClone(kept.get(`${taskId}.${step}`));
    },
    async put(taskId, step, value) {
      kept.set(`${taskId}.${step}`, structuredClone(value));
    },
  };
}
