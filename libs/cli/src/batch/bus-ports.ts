import type { Bus } from "@insitu/bus";
import {
  RegistryRollback,
  RegistrySnapshots,
  type SnapshotInfo,
  TaskGet,
  type TaskRecord,
  TaskSubmit,
} from "@insitu/contracts";
import { ErrorCategory, InsituError, isInsituError } from "@insitu/errors";
import { requestBarrier } from "@insitu/evolver/client";
import { Registry, importLibrary } from "@insitu/registry";
import type { Logger } from "@insitu/telemetry";
import type { BatchPorts, BatchRunState } from "./runner.js";

/** KV bucket holding batch runs' durable state (key `run.<runId>`). */
export const BATCHES_BUCKET = "batches";
const TERMINAL = new Set(["succeeded", "failed", "budget-exceeded", "cancelled"]);

/** The batch runner's ports over the bus: the manager's task API, the registry, the evolver. */
export async function busBatchPorts(
  bus: Bus,
  options: { logger: Logger; barrierTimeoutMs?: number },
): Promise<BatchPorts> {
  const kv = await bus.kv(BATCHES_BUCKET);
  const getTask = async (taskId: string): Promise<TaskRecord | undefined> => {
    try {
      return await bus.request(TaskGet, { taskId }, { taskId });
    } catch (error) {
      if (isInsituError(error, "NOT_FOUND")) return undefined;
      throw error;
    }
  };
  return {
    getTask,
    async submit(taskId, item, admit) {
      await bus.request(TaskSubmit, { taskId, question: item.question, options: { admit } }, { taskId });
    },
    async waitDone(taskId, signal) {
      for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
        signal?.throwIfAborted();
        const record = await getTask(taskId);
        if (record && TERMINAL.has(record.status)) return record;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    },
    barrier: (barrierId) =>
      requestBarrier(bus, barrierId, {
        timeoutMs: options.barrierTimeoutMs ?? 30 * 60_000,
        reason: "batch barrier",
      }),
    async currentSnapshot() {
      return (await bus.request(RegistrySnapshots, { limit: 1 })).current;
    },
    async snapshotsBetween(from, to) {
      if (to <= from) return [];
      const log = await bus.request(RegistrySnapshots, { before: to + 1, limit: Math.min(500, to - from) });
      return log.snapshots.filter((info: SnapshotInfo) => info.number > from && info.number <= to);
    },
    async loadState(runId) {
      return (await kv.get<BatchRunState>(`run.${runId}`))?.value;
    },
    async saveState(state) {
      await kv.put(`run.${state.runId}`, state);
    },
    async warmStart(spec) {
      if (spec === "current") return;
      const current = (await bus.request(RegistrySnapshots, { limit: 1 })).current;
      if (spec === "zero" || /^\d+$/.test(spec)) {
        const to = spec === "zero" ? 0 : Number(spec);
        if (to > current) {
          throw new InsituError(
            `--warm-start ${spec}: the library has no snapshot ${to} (current is ${current})`,
            {
              code: "BATCH_INPUT_INVALID",
              category: ErrorCategory.user,
            },
          );
        }
        if (to === current) return;
        await bus.request(RegistryRollback, {
          to,
          expectedSnapshot: current,
          reason: `batch warm start from snapshot ${to}`,
        });
        return;
      }
      // A folder written by `insitu library export`.
      if (current !== 0) {
        await bus.request(RegistryRollback, {
          to: 0,
          expectedSnapshot: current,
          reason: "batch warm start from a folder",
        });
      }
      const registry = await Registry.open(bus, { logger: options.logger });
      try {
        await importLibrary(registry, spec, { reason: `batch warm start from ${spec}` });
      } finally {
        registry.stop();
      }
    },
    now: () => Date.now(),
  };
}
