// Storage names: the task and step-result KV buckets, step keys and work message ids.
// Part of the task domain's contracts (see ../task.ts).

/** KV bucket holding the manager's task state (key = task id). */
export const TASKS_BUCKET = "tasks";
/** KV bucket holding step results (key = {@link stepKey}); written by the role that did the step. */
export const TASK_STEPS_BUCKET = "task-steps";

/** KV key of one step result: `<taskId>.<step>`. */
export function stepKey(taskId: string, step: string): string {
  return `${taskId}.${step}`;
}

/** Message id of a work message, so JetStream drops a duplicate enqueue of the same step. */
export function workMessageId(queue: string, taskId: string, step: string): string {
  return `${queue}:${taskId}:${step}`;
}
