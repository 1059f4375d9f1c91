import { randomBytes } from "node:crypto";
import type { Bus } from "@insitu/bus";
import {
  type TaskBudgets,
  type TaskEvent,
  TaskEvents,
  TaskGet,
  type TaskRecord,
  TaskSubmit,
  isTerminalTaskStatus,
} from "@insitu/contracts";

/** A task followed from submission to its end, with every event it published. */
export interface FollowedTask {
  taskId: string;
  events: TaskEvent[];
  /** Resolves with the final record once the task-end event arrives. */
  done: Promise<TaskRecord>;
  /** Resolves with the first event of a kind (for fault injection mid-step). */
  next(kind: TaskEvent["kind"]): Promise<TaskEvent>;
}

/** Submits a question through the manager's bus API and follows its events. */
export async function submitTask(
  bus: Bus,
  question: string,
  options: { label: string; budgets?: TaskBudgets; timeoutMs?: number },
): Promise<FollowedTask> {
  const taskId = `e2e-${options.label}-${randomBytes(3).toString("hex")}`;
  const events: TaskEvent[] = [];
  const waiters: {
    kind: TaskEvent["kind"];
    resolve: (event: TaskEvent) => void;
    reject: (error: Error) => void;
  }[] = [];
  let finish!: () => void;
  const ended = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const subscription = bus.subscribe(
    TaskEvents,
    (event) => {
      events.push(event);
      for (const waiter of waiters.filter((item) => item.kind === event.kind)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
      if (event.kind === "task-end") {
        finish();
        // A task that ended without the awaited event fails the wait now, with what it did see.
        for (const waiter of waiters.splice(0))
          waiter.reject(
            new Error(
              `task ${taskId} ended without a ${waiter.kind} event; events: ${events.map((item) => item.kind).join(", ")}`,
            ),
          );
      }
    },
    { token: taskId },
  );
  await bus.request(TaskSubmit, { question, taskId, options: { budgets: options.budgets ?? {} } });
  const timeoutMs = options.timeoutMs ?? 120_000;
  const done = (async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `task ${taskId} did not end within ${timeoutMs} ms; events: ${events.map((event) => event.kind).join(", ")}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([ended, timeout]);
    } finally {
      clearTimeout(timer);
      subscription.unsubscribe();
    }
    const record = await bus.request(TaskGet, { taskId });
    if (!isTerminalTaskStatus(record.status))
      throw new Error(`task-end seen but the record says ${record.status}`);
    return record;
  })();
  return {
    taskId,
    events,
    done,
    next(kind) {
      const seen = events.find((event) => event.kind === kind);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => waiters.push({ kind, resolve, reject }));
    },
  };
}

export function eventsOf<K extends TaskEvent["kind"]>(
  events: TaskEvent[],
  kind: K,
): Extract<TaskEvent, { kind: K }>[] {
  return events.filter((event): event is Extract<TaskEvent, { kind: K }> => event.kind === kind);
}

/**
 * The events of one kind, one per key: task events are at-least-once (a restarted role re-announces
 * a stored step result, a restarted manager re-performs its committed outbox), so "it happened
 * once" is one distinct key — a call id, a built version — not one message.
 */
export function distinctEventsOf<K extends TaskEvent["kind"]>(
  events: TaskEvent[],
  kind: K,
  key: (event: Extract<TaskEvent, { kind: K }>) => string,
): Extract<TaskEvent, { kind: K }>[] {
  const seen = new Map<string, Extract<TaskEvent, { kind: K }>>();
  for (const event of eventsOf(events, kind)) if (!seen.has(key(event))) seen.set(key(event), event);
  return [...seen.values()];
}
