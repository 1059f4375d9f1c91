import type { Bus, KvBucket } from "@insitu/bus";
import {
  EVALS_BUCKET,
  type EvalState,
  EvalStateSchema,
  TaskEvents,
  TaskGet,
  TaskList,
  TaskSubmit,
} from "@insitu/contracts";
import { WorkspaceStore, storeAttachments } from "@insitu/files";
import type { GatewayBackend, MetricsSummary } from "./backend.js";
import { createRegistryClient } from "./registry-client.js";

/** The gateway's backend over the bus: tasks from the manager, tools and figures from the registry. */
export function createBusBackend(bus: Bus, options: { requestTimeoutMs: number }): GatewayBackend {
  const timeout = { timeoutMs: options.requestTimeoutMs };
  const registry = createRegistryClient(bus, timeout);
  let workspace: Promise<WorkspaceStore> | undefined;
  let evals: Promise<KvBucket> | undefined;
  return {
    async storeAttachments(taskId, attachments) {
      workspace ??= WorkspaceStore.open(bus);
      workspace.catch(() => {
        workspace = undefined;
      });
      return storeAttachments(await workspace, taskId, attachments);
    },
    submitTask: (input) =>
      bus.request(
        TaskSubmit,
        {
          question: input.question,
          ...(input.options === undefined ? {} : { options: input.options }),
          ...(input.taskId === undefined ? {} : { taskId: input.taskId }),
          ...(input.attachments === undefined ? {} : { attachments: input.attachments }),
        },
        timeout,
      ),
    getTask: (taskId) => bus.request(TaskGet, { taskId }, { ...timeout, taskId }),
    listTasks: (limit) => bus.request(TaskList, limit === undefined ? {} : { limit }, timeout),
    followTaskEvents(taskId, onEvent) {
      const subscription = bus.subscribe(TaskEvents, (event) => onEvent(event), { token: taskId });
      return () => subscription.unsubscribe();
    },
    listTools: (query) => registry.listTools(query),
    toolHistory: (name) => registry.toolHistory(name),
    listReviews: (options) => registry.listReviews(options),
    getVersion: (hash) => registry.getVersion(hash),
    decideReview: (input) => registry.decideReview(input),
    metricsSummary: (): Promise<MetricsSummary> => registry.metricsSummary(),
    metricsSeries: (options) => registry.metricsSeries(options),
    async listEvals({ limit }) {
      evals ??= bus.kv(EVALS_BUCKET);
      evals.catch(() => {
        evals = undefined;
      });
      const bucket = await evals;
      const keys = await bucket.keys();
      const states: EvalState[] = [];
      for (const key of keys) {
        const entry = await bucket.get(key);
        const parsed = EvalStateSchema.safeParse(entry?.value);
        // An entry of another shape (an older CLI) is set aside, not served.
        if (entry && !parsed.success) {
          await bucket.quarantine(
            key,
            entry.revision,
            `not an EvalState: ${parsed.error.message.slice(0, 300)}`,
          );
          continue;
        }
        if (parsed.success) states.push(parsed.data);
      }
      states.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
      return { evals: states.slice(0, limit) };
    },
  };
}
