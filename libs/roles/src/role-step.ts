import type { Bus, Consumer } from "@insitu/bus";
import { type Payload, TASK_STEPS_BUCKET, type TaskEvent, type WorkQueueContract } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import type { Logger } from "@insitu/telemetry";
import type { z } from "zod";
import {
  type StepDoneKind,
  type StepStore,
  kvStepStore,
  managerNotifier,
  taskEventPublisher,
} from "./steps.js";
import { type RoleWorkOptions, type WorkHooks, consumeRoleWork } from "./work.js";

/** The effects a role step has outside its own work: where results go, who is told, what is logged. */
export interface StepPorts {
  steps: StepStore;
  /** Wakes the manager for this step (idempotent: the message id is the step's and the kind's). */
  notifyManager(taskId: string, step: string, kind: StepDoneKind): Promise<void>;
  /** Publishes a task event (the kit never lets a failed publish fail the step). */
  emit(event: TaskEvent): Promise<void>;
  now(): Date;
  logger: Logger;
}

/** What a step's `run` gets besides the work: this delivery's hooks and the step's ports. */
export interface StepContext extends Partial<WorkHooks> {
  /** The service's logger with the task, step and `describe.context` fields. */
  logger: Logger;
  /** Publishes a task event; a failure is logged, never thrown. */
  emit(event: TaskEvent): Promise<void>;
  now(): Date;
}

/** A work queue whose messages name their task and step — every role's queue does. */
export type StepQueue = WorkQueueContract<z.ZodType<{ taskId: string; step: string }>>;

/** How a result is read back from the step store (a zod schema fits). */
export interface ResultReader<R> {
  safeParse(value: unknown): { success: true; data: R } | { success: false };
}

export interface RoleStepDefinition<C extends StepQueue, R, L = undefined> {
  /** The queue the role consumes; taskId and step are read from its messages. */
  work: C;
  /** The stored result's schema: a stored value that parses is the step's answer for good. */
  result: ResultReader<R>;
  /** What the manager is told once the result is stored (one kind, or one per message). */
  kind: StepDoneKind | ((work: Payload<C>) => StepDoneKind);
  /**
   * What the run reads first, when no result is stored yet. `undefined` means the step is no
   * longer awaited (its task moved on): the delivery ends with nothing stored, told or announced.
   * Its errors go back to the bus as they are (no failed result is stored for them).
   */
  load?(work: Payload<C>, context: StepContext): Promise<L | undefined>;
  /**
   * The step's work (with what `load` read). A retryable error is retried by redelivery until the
   * last delivery; a run with its own rule for giving up returns its failed result itself.
   */
  run(work: Payload<C>, context: StepContext, loaded: L): Promise<R>;
  /** The result stored for an error that will not go away (or on the last delivery). */
  onFailure(work: Payload<C>, failure: InsituError, context: StepContext): R;
  /** Task events at the start of a run and once the result is stored and announced. */
  announce?: {
    start?(work: Payload<C>, time: string): TaskEvent;
    end?(work: Payload<C>, result: R, time: string): TaskEvent;
  };
  /** Log lines and fields (defaults are generic). */
  describe?: {
    context?(work: Payload<C>): Record<string, unknown>;
    replayed?: string;
    dropped?: string;
    failed?: string;
    done?: string;
    summary?(result: R): Record<string, unknown>;
  };
}

/** A delivery's answer: the result, or `undefined` when a step with `load` was dropped. */
type Handled<R, L> = [L] extends [undefined] ? R : R | undefined;

export interface RoleStep<C extends StepQueue, R, L = undefined> {
  readonly definition: RoleStepDefinition<C, R, L>;
  /** One delivery's handler over the given ports (in-memory ones in tests); `undefined` when dropped. */
  handler(ports: StepPorts): (work: Payload<C>, hooks?: Partial<WorkHooks>) => Promise<Handled<R, L>>;
  /** Consumes the role's queue on the bus: KV step store, manager notifier and task events. */
  start(bus: Bus, options: RoleWorkOptions & { logger: Logger; now?: () => Date }): Promise<Consumer>;
}

/**
 * A role's durable step (docs/adr/0155): a stored result is only re-announced (a redelivery never
 * runs the work again); a retryable failure is thrown back to the bus until the last delivery, then
 * any failure becomes the stored result; the result is stored before the manager is told.
 */
export function defineRoleStep<C extends StepQueue, R, L = undefined>(
  definition: RoleStepDefinition<C, R, L>,
): RoleStep<C, R, L> {
  const describe = definition.describe ?? {};
  const kindOf = (work: Payload<C>): StepDoneKind =>
    typeof definition.kind === "function" ? definition.kind(work) : definition.kind;
  function handler(ports: StepPorts) {
    return async (work: Payload<C>, hooks: Partial<WorkHooks> = {}): Promise<Handled<R, L>> => {
      const { taskId, step } = work;
      const logger = ports.logger.child({ taskId, step, ...describe.context?.(work) });
      const emit = async (event: TaskEvent): Promise<void> => {
        try {
          await ports.emit(event);
        } catch (error) {
          logger.warn("could not publish a task event", { error, kind: event.kind });
        }
      };
      const context: StepContext = { ...hooks, logger, emit, now: ports.now };
      const stored = definition.result.safeParse(await ports.steps.get(taskId, step));
      if (stored.success) {
        logger.info(describe.replayed ?? "step already done; re-announcing it");
        await ports.notifyManager(taskId, step, kindOf(work));
        return stored.data as Handled<R, L>;
      }
      let loaded = undefined as L;
      if (definition.load) {
        const read = await definition.load(work, context);
        if (read === undefined) {
          logger.info(describe.dropped ?? "step no longer awaited; dropping it");
          return undefined as Handled<R, L>;
        }
        loaded = read;
      }
      const time = () => ports.now().toISOString();
      const start = definition.announce?.start;
      if (start) await emit(start(work, time()));
      let result: R;
      try {
        result = await definition.run(work, context, loaded);
      } catch (error) {
        const failure = InsituError.from(error);
        // Transient trouble is retried by redelivery; on the last delivery, or for an error that
        // will not go away, the manager gets a final result to re-plan on instead of waiting.
        if (failure.retryable && !hooks.lastDelivery) throw failure;
        logger.error(describe.failed ?? "step failed for good", { error: failure });
        result = definition.onFailure(work, failure, context);
      }
      // Commit the result first, then tell the manager; the bus acks the work only after this returns.
      await ports.steps.put(taskId, step, result);
      await ports.notifyManager(taskId, step, kindOf(work));
      const end = definition.announce?.end;
      if (end) await emit(end(work, result, time()));
      logger.info(describe.done ?? "step done", describe.summary?.(result) ?? {});
      return result as Handled<R, L>;
    };
  }
  return {
    definition,
    handler,
    async start(bus, { logger, now = () => new Date(), ...options }) {
      const handle = handler({
        steps: kvStepStore(await bus.kv(TASK_STEPS_BUCKET)),
        notifyManager: managerNotifier(bus),
        emit: taskEventPublisher(bus),
        now,
        logger,
      });
      return consumeRoleWork(bus, definition.work, handle, options);
    },
  };
}
