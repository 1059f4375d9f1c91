import type { ManagerStepWork, ManagerWork, Payload } from "@insitu/contracts";
import type { Manager } from "./service.js";

type Queued =
  | { queue: "step"; work: Payload<typeof ManagerStepWork> }
  | { queue: "work"; work: Payload<typeof ManagerWork> };

/**
 * FAKE `manager.step` / `manager.work` queues for unit tests: the Manager's own plan and judge
 * steps, and the plan-done / judge-done they announce, are queued (a repeated message id is
 * dropped, like JetStream's de-duplication) and run once the current call returns.
 */
export function inlineSteps() {
  const queued: Queued[] = [];
  const seen = new Set<string>();
  let manager: Manager | undefined;
  const push = (item: Queued, id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    queued.push(item);
  };
  async function drain(): Promise<void> {
    for (let item = queued.shift(); item && manager; item = queued.shift()) {
      if (item.queue === "step") await manager.handleStep(item.work);
      else await manager.handleWork(item.work);
    }
  }
  return {
    /** For the fake EffectPort's perform: true when it took the effect. */
    perform(effect: { type: string; payload?: unknown }): boolean {
      if (effect.type !== "plan" && effect.type !== "judge") return false;
      const work = effect.payload as Payload<typeof ManagerStepWork>;
      push({ queue: "step", work }, `step:${work.taskId}:${work.step}`);
      return true;
    },
    /** For the fake EffectPort's enqueueManager: true when it took the message. */
    enqueue(work: Payload<typeof ManagerWork>): boolean {
      if (work.kind !== "plan-done" && work.kind !== "judge-done") return false;
      push({ queue: "work", work }, `work:${work.taskId}:${work.kind}.${work.step}`);
      return true;
    },
    /** The manager with handleWork running the queued steps to the end before it returns. */
    wrap(created: Manager): Manager {
      manager = created;
      return {
        ...created,
        async handleWork(work, options) {
          await created.handleWork(work, options);
          await drain();
        },
        async handleStep(work, options) {
          await created.handleStep(work, options);
          await drain();
        },
      };
    },
  };
}
