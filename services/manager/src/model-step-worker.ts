import {
  type JudgeStepResult,
  JudgeStepResultSchema,
  ManagerStepWork,
  type Payload,
  type PlanStepResult,
  PlanStepResultSchema,
  type TaskUsage,
} from "@insitu/contracts";
import { ErrorCode, InsituError, isInsituError } from "@insitu/errors";
import { usageOfError } from "@insitu/llm";
import { defineRoleStep } from "@insitu/roles";
import { z } from "zod";
import type { MachineDeps } from "./machine.js";
import { chargeTo, runJudgeStep, runPlanStep } from "./model-steps.js";
import { type CallRecordStore, RecordedCalls } from "./recorded-calls.js";
import type { EffectPort, ManagerDeps, TaskStateStore, WorkOptions } from "./service.js";
import { type ManagerState, addUsage, budgetProblem, emptyUsage } from "./state.js";

type StepWorkerDeps = MachineDeps &
  Pick<ManagerDeps, "logger" | "writeStep"> & {
    store: TaskStateStore;
    effects: EffectPort;
  };

type ModelStepResult = PlanStepResult | JudgeStepResult;

const MAX_CHARGE_ATTEMPTS = 5;

/** Either stored form: a step's key says which it is (`plan-N` / `judge-N`). */
const ModelStepResultSchema = z.union([PlanStepResultSchema, JudgeStepResultSchema]);

/**
 * The Manager's plan and judge steps (queue `manager.step`, ADR 0150), on the roles' step kit
 * (`defineRoleStep`, ADR 0155): a stored result is only re-announced; a step whose round the task
 * no longer awaits is dropped; otherwise the step reads the task's state (never writes it, except
 * to charge a failed attempt), makes its model calls — each answered at most once per step, ADR
 * 0119's RecordedCalls — and the kit stores its result, then wakes the state machine with
 * `plan-done` / `judge-done`. A model call's failure is retried (after its usage is charged) only
 * while the budget allows; a final one is stored as a failed result carrying what was spent.
 */
export function createModelSteps(deps: StepWorkerDeps, callRecords: CallRecordStore) {
  const step = defineRoleStep({
    work: ManagerStepWork,
    result: ModelStepResultSchema,
    kind: (work) => (work.kind === "plan" ? "plan-done" : "judge-done"),
    describe: {
      context: (work) => ({ kind: work.kind }),
      replayed: "model step already done; re-announcing it",
      dropped: "step no longer awaited (task moved on or ended); dropping it",
      failed: "model step failed for good",
      done: "model step done",
      summary: (result) => ({ ok: result.ok }),
    },
    async load(work) {
      const state = (await deps.store.get(work.taskId))?.state;
      const awaited =
        state?.record.status === (work.kind === "plan" ? "planning" : "judging") &&
        state.record.round === work.round;
      return awaited ? state : undefined;
    },
    async run(work, context, state: ManagerState): Promise<ModelStepResult> {
      const calls = new RecordedCalls(work.taskId, work.step, callRecords, context.logger);
      const stepDeps: MachineDeps = { ...deps, ...calls.wrap(deps) };
      const spent = emptyUsage();
      try {
        return work.kind === "plan"
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
        if (
          failure.retryable &&
          !context.lastDelivery &&
          failure.code !== ErrorCode.budgetExceeded &&
          !over
        ) {
          // The answered calls are replayed on redelivery (and charged then); the failed one is
          // charged now, or it would be lost with this attempt (ADR 0060).
          await chargeTask(work.taskId, lost);
          throw failure;
        }
        context.logger.warn("model step failed for good", { error: failure });
        return failedResult(failure, sum(spent, lost));
      }
    },
    // Only what fails outside the model calls (e.g. storing a RecordedCalls answer) gets here.
    onFailure: (_work, failure) => failedResult(failure, emptyUsage()),
  });

  const handle = step.handler({
    steps: {
      get: (taskId, key) => deps.readStep(taskId, key, z.unknown()),
      put: deps.writeStep,
    },
    notifyManager: (taskId, key, kind) =>
      deps.effects.enqueueManager({ taskId, kind: kind as "plan-done" | "judge-done", step: key }),
    // The manager's own steps publish no task events: `transition` does, on plan-done/judge-done.
    emit: async () => {},
    now: () => deps.now(),
    logger: deps.logger,
  });

  async function handleStep(work: Payload<typeof ManagerStepWork>, options: WorkOptions = {}): Promise<void> {
    await handle(work, options);
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

function failedResult(failure: InsituError, usage: TaskUsage): ModelStepResult {
  return { ok: false, error: { code: failure.code, message: failure.message.slice(0, 10_000) }, usage };
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
