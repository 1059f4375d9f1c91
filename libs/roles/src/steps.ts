import type { Bus, KvBucket } from "@insitu/bus";
import { ManagerWork, stepKey, type TaskEvent, TaskEvents, workMessageId } from "@insitu/contracts";

/** Where a role stores a step's result before it wakes the manager (KV bucket `task-steps`). */
export interface StepStore {
  get(taskId: string, step: string): Promise<unknown | undefined>;
  put(taskId: string, step: string, value: unknown): Promise<void>;
}

export function kvStepStore(kv: KvBucket): StepStore {
  return {
    async get(taskId, step) {
      return (await kv.get(stepKey(taskId, step)))?.value;
    },
    async put(taskId, step, value) {
      await kv.put(stepKey(taskId, step), value);
    },
  };
}

export type StepDoneKind = "build-done" | "execution-done" | "integration-done" | "plan-done" | "judge-done";

/**
 * Wakes the manager once a step's result is stored. The message id is derived from the step, so
 * a redelivered role that notifies twice enqueues once (JetStream de-duplication).
 */
export function managerNotifier(bus: Bus) {
  return (taskId: string, step: string, kind: StepDoneKind): Promise<void> =>
    bus.enqueue(
      ManagerWork,
      { taskId, kind, step },
      { id: workMessageId("manager", taskId, `${kind}.${step}`), taskId },
    );
}

/** Publishes a task's progress event on its durable, replayable subject. */
export function taskEventPublisher(bus: Bus) {
  return (event: TaskEvent): Promise<void> =>
    bus.publish(TaskEvents, event, { token: event.taskId, taskId: event.taskId });
}
