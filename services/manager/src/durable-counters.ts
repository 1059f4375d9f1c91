import { isTerminalTaskStatus } from "@insitu/contracts";
import type { TaskStateStore } from "./service.js";

/**
 * Counts of ended tasks by final status, from the durable task states — so `insitu_tasks_total`
 * does not fall back to zero when the manager restarts (a counter reset reads as lost work).
 */
export async function endedTaskCounts(store: Pick<TaskStateStore, "list">): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const state of await store.list()) {
    const status = state.record.status;
    if (isTerminalTaskStatus(status)) counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  return counts;
}
