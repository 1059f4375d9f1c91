import type { WorkHooks } from "@insitu/roles";
import {
  type ManagerWork,
  type Payload,
  type Reply,
  type ResolvedTaskBudgets,
  type TaskEvent,
  type TaskGet,
  type TaskList,
  type TaskSubmit,
  isTerminalTaskStatus,
} from "@insitu/contracts";
import { ErrorCategory, InsituError, isInsituError, notFound } from "@insitu/errors";
import type { Logger } from "@insitu/telemetry";
import { randomUUID } from "node:crypto";
import { type MachineDeps, eventOf } from "./machine.js";
import { createModelSteps, memoryCallRecords } from "./model-step-worker.js";
import type { CallRecordStore } from "./recorded-calls.js";
import { type Effect, type ManagerState, newTaskState } from "./state.js";
import { type ManagerEvent, transition } from "./transition.js";

/** The `tasks` KV bucket, typed. `create`/`update` reject with CONFLICT on a lost race. */
export interface TaskStateStore {
  get(taskId: string): Promise<{ state: ManagerState; revision: number } | undefined>;
  create(state: ManagerState): Promise<number>;
  update(state: ManagerState, revision: number): Promise<number>;
  list(): Promise<ManagerState[]>;
}

/** Performs effects; every method is idempotent (deterministic message ids). */
export interface EffectPort {
  enqueueManager(work: Payload<typeof ManagerWork>): Promise<void>;
  perform(effect: Effect): Promise<void>;
}

export interface ManagerDeps extends MachineDeps {
  store: TaskStateStore;
  effects: EffectPort;
  defaults: ResolvedTaskBudgets;
  logger: Logger;
  /** Called once per task when a committed transition ended it (metrics). */
  onFinished?: (record: ManagerState["record"]) => void;
  /**
   * Where plan and judge answers are kept per `manager.step` step, so a redelivered step never asks
   * the model again (ADR 0119, 0150). Absent: kept in this process's memory only.
   */
  callRecords?: CallRecordStore;
  /** Stores a plan or judge step's result where `readStep` finds it (the task-steps bucket). */
  writeStep(taskId: string, step: string, value: unknown): Promise<void>;
  /**
   * Arm a timer per unfinished task at its wall-time end, so a task waiting on a role ends as
   * BUDGET_EXCEEDED at once instead of at the next sweep (ADR 0062). Off in unit tests.
   */
  expireOnTime?: boolean;
}

export type WorkOptions = Partial<WorkHooks>;

const MAX_CAS_ATTEMPTS = 20;

export function createManager(deps: ManagerDeps) {
  async function submit(request: Payload<typeof TaskSubmit>): Promise<Reply<typeof TaskSubmit>> {
    const taskId = request.taskId ?? `t-${randomUUID()}`;
    const budgets = { ...deps.defaults, ...stripUndefined(request.options?.budgets ?? {}) };
    const state = newTaskState({
      taskId,
      question: request.question,
      budgets,
      now: deps.now(),
      ...(request.options?.admit ? { admit: request.options.admit } : {}),
      ...(request.options?.onReview ? { onReview: request.options.onReview } : {}),
      attachments: request.attachments,
    });
    try {
      await deps.store.create(state);
    } catch (error) {
      if (!isInsituError(error, "CONFLICT")) throw error;
      const existing = await deps.store.get(taskId);
      if (!existing) throw error;
      if (existing.state.record.question !== request.question) {
        throw new InsituError(`task ${taskId} already exists with another question`, {
          code: "TASK_EXISTS",
          category: ErrorCategory.user,
          details: { taskId },
        });
      }
      // Same submit again (a retried request): make sure the start message went out.
      if (existing.state.record.status === "queued") {
        await deps.effects.enqueueManager({ taskId, kind: "start", step: "start" });
      }
      return { taskId, status: existing.state.record.status };
    }
    await deps.effects.enqueueManager({ taskId, kind: "start", step: "start" });
    armExpiry(state);
    return { taskId, status: "queued" };
  }

  const expiryTimers = new Map<string, NodeJS.Timeout>();

  /** Ends the task at its wall-time end if it is still running then (see expireOnTime). */
  function armExpiry(state: ManagerState): void {
    if (!deps.expireOnTime) return;
    const taskId = state.record.taskId;
    if (isFinished(state)) {
      clearTimeout(expiryTimers.get(taskId));
      expiryTimers.delete(taskId);
      return;
    }
    if (expiryTimers.has(taskId)) return;
    const end = Date.parse(state.record.createdAt) + state.record.budgets.wallMs;
    const timer = setTimeout(
      () => {
        expiryTimers.delete(taskId);
        expireOne(taskId).catch((error: unknown) =>
          deps.logger.warn("ending an overdue task failed; the sweep will retry", { taskId, error }),
        );
      },
      Math.max(0, end - deps.now().getTime()) + 5,
    );
    timer.unref();
    expiryTimers.set(taskId, timer);
  }

  /** Ends one task if it is past its wall-time budget; true when this call ended it. */
  async function expireOne(taskId: string): Promise<boolean> {
    for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
      const entry = await deps.store.get(taskId);
      if (!entry) return false;
      const { state, applied } = transition(entry.state, { kind: "expire" }, deps.now());
      if (!applied) return false;
      try {
        const revision = await deps.store.update(state, entry.revision);
        deps.onFinished?.(state.record);
        await flushOutbox(state, revision);
        deps.logger.warn("task ran out of wall time while waiting; ended", { taskId });
        return true;
      } catch (error) {
        if (!isInsituError(error, "CONFLICT")) throw error;
      }
    }
    return false;
  }

  async function get(request: Payload<typeof TaskGet>): Promise<Reply<typeof TaskGet>> {
    const entry = await deps.store.get(request.taskId);
    if (!entry) throw notFound(`task ${request.taskId}`, { taskId: request.taskId });
    return entry.state.record;
  }

  async function list(request: Payload<typeof TaskList>): Promise<Reply<typeof TaskList>> {
    const states = await deps.store.list();
    const tasks = states
      .map(({ record }) => ({
        taskId: record.taskId,
        question: record.question,
        status: record.status,
        round: record.round,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
      }))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, request.limit ?? 50);
    return { tasks };
  }

  /**
   * One `manager.work` message: its event (the stored step result) is read once, then applied with
   * compare-and-set — `transition` is pure, so a conflict only re-runs it on the fresh state — and
   * the committed outbox is performed and cleared. A redelivery after a crash finds the step
   * applied and only performs what is still in the outbox. No model call happens here (ADR 0150).
   */
  async function handleWork(work: Payload<typeof ManagerWork>, options: WorkOptions = {}): Promise<void> {
    const logger = deps.logger.child({ taskId: work.taskId, step: work.step, kind: work.kind });
    let event: ManagerEvent;
    try {
      event = await eventOf(work, deps.readStep);
    } catch (error) {
      const failure = InsituError.from(error);
      if (failure.retryable && !options.lastDelivery) throw failure;
      logger.error("step failed for good; failing the task", { error: failure });
      event = {
        kind: "step-failed",
        error: { code: failure.code, message: failure.message.slice(0, 10_000) },
      };
    }
    for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
      const entry = await deps.store.get(work.taskId);
      if (!entry) {
        logger.warn("work for an unknown task; dropping it");
        return;
      }
      const next = transition(entry.state, event, deps.now());
      options.heartbeat?.();
      let revision = entry.revision;
      if (next.applied) {
        try {
          revision = await deps.store.update(next.state, entry.revision);
        } catch (error) {
          if (isInsituError(error, "CONFLICT")) {
            logger.info("task changed meanwhile; re-applying", { attempt });
            continue;
          }
          throw error;
        }
        logger.info("task advanced", { status: next.state.record.status, round: next.state.record.round });
        if (isFinished(next.state) && !isFinished(entry.state)) deps.onFinished?.(next.state.record);
      }
      armExpiry(next.state);
      await flushOutbox(next.state, revision);
      return;
    }
    throw new InsituError("too many concurrent updates of one task", { code: "CONFLICT", retryable: true });
  }

  const steps = createModelSteps(deps, deps.callRecords ?? memoryCallRecords());

  async function flushOutbox(state: ManagerState, revision: number): Promise<void> {
    if (state.outbox.length === 0) return;
    for (const effect of state.outbox) await deps.effects.perform(effect);
    const cleared: ManagerState = { ...state, outbox: [] };
    try {
      await deps.store.update(cleared, revision);
    } catch (error) {
      // Someone advanced the task already; its outbox is its own. Ours is done.
      if (!isInsituError(error, "CONFLICT")) throw error;
    }
  }

  /**
   * Ends every unfinished task past its wall-time budget (compare-and-set, so several manager
   * replicas may sweep at once). Budgets are otherwise checked at each step; this catches a task
   * whose next step never comes back. Returns the task ids it ended.
   */
  async function sweepOverdue(): Promise<string[]> {
    const ended: string[] = [];
    for (const candidate of await deps.store.list()) {
      if (isFinished(candidate)) continue;
      const entry = await deps.store.get(candidate.record.taskId);
      if (!entry) continue;
      const { state, applied } = transition(entry.state, { kind: "expire" }, deps.now());
      if (!applied) continue;
      try {
        const revision = await deps.store.update(state, entry.revision);
        deps.onFinished?.(state.record);
        await flushOutbox(state, revision);
        ended.push(state.record.taskId);
        deps.logger.warn("task ran out of wall time while waiting; ended", { taskId: state.record.taskId });
      } catch (error) {
        if (!isInsituError(error, "CONFLICT")) throw error;
      }
    }
    return ended;
  }

  /** Clears the per-task expiry timers (service stop). */
  function close(): void {
    for (const timer of expiryTimers.values()) clearTimeout(timer);
    expiryTimers.clear();
  }

  return { submit, get, list, handleWork, handleStep: steps.handleStep, sweepOverdue, close };
}

export type Manager = ReturnType<typeof createManager>;

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

/** True once the task has an answer or a final error. */
export function isFinished(state: ManagerState): boolean {
  return isTerminalTaskStatus(state.record.status);
}

export type { TaskEvent };
