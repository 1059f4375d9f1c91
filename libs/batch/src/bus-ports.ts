import { stat } from "node:fs/promises";
import type { Bus } from "@insitu/bus";
import {
  BATCHES_BUCKET,
  RegistryRollback,
  RegistrySnapshots,
  type SnapshotInfo,
  TaskGet,
  type TaskRecord,
  TaskSubmit,
} from "@insitu/contracts";
import { ErrorCategory, InsituError, isInsituError } from "@insitu/errors";
import { WorkspaceStore, attachSources } from "@insitu/files";
import { requestBarrier } from "./barrier.js";
import type { BatchPorts, BatchRunState } from "./runner.js";

const TERMINAL = new Set(["succeeded", "failed", "budget-exceeded", "cancelled"]);

export interface BusBatchPortsOptions {
  barrierTimeoutMs?: number;
  /** Folder that relative attachment paths are read from (the questions file's folder). */
  baseDir?: string;
  /**
   * Whether attachments may be file paths (the CLI, reading the user's own disk) or only data URIs
   * (the gateway: a client must never make the server read its files). Default true.
   */
  attachmentPaths?: boolean;
  /**
   * Makes a folder written by `insitu library export` the whole library in one snapshot (refusing
   * a folder edited since its export), for a warm start from a folder. Without it such a warm start is refused.
   */
  importFolder?: (folder: string) => Promise<void>;
}

/** The batch runner's ports over the bus: the manager's task API, the registry, the evolver. */
export async function busBatchPorts(bus: Bus, options: BusBatchPortsOptions = {}): Promise<BatchPorts> {
  const kv = await bus.kv(BATCHES_BUCKET);
  let workspace: Promise<WorkspaceStore> | undefined;
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
      // Attachments (paths relative to the questions file, or data URIs as HLE ships images) are
      // checked and stored under the task before it is submitted, as the gateway does.
      const sources = attachmentSources(item.attachments, item.id);
      if (options.attachmentPaths === false) assertDataUris(sources, item);
      let attachments: Awaited<ReturnType<typeof attachSources>> | undefined;
      if (sources.length > 0) {
        workspace ??= WorkspaceStore.open(bus);
        attachments = await attachSources(await workspace, taskId, sources, {
          ...(options.baseDir ? { baseDir: options.baseDir } : {}),
        });
      }
      await bus.request(
        TaskSubmit,
        { taskId, question: item.question, options: { admit }, ...(attachments ? { attachments } : {}) },
        { taskId },
      );
    },
    async waitDone(taskId, signal) {
      for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
        signal?.throwIfAborted();
        const record = await getTask(taskId);
        if (record && TERMINAL.has(record.status)) return record;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    },
    barrier: (barrierId, signal) =>
      requestBarrier(bus, barrierId, {
        timeoutMs: options.barrierTimeoutMs ?? 30 * 60_000,
        reason: "batch barrier",
        ...(signal ? { signal } : {}),
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
      // A folder written by `insitu library export`: checked to be a folder here, then read and
      // checked in full by `importFolder` and made the whole library in ONE snapshot, so a bad
      // folder (or a kill half-way) leaves the library as it was rather than emptied (ADR 0115).
      if (!options.importFolder) {
        throw new InsituError(
          `warm start ${JSON.stringify(spec)}: only "zero", "current" or a snapshot number are accepted here`,
          { code: "BATCH_INPUT_INVALID", category: ErrorCategory.user },
        );
      }
      const folder = await stat(spec).catch(() => undefined);
      if (!folder?.isDirectory()) {
        throw new InsituError(
          `--warm-start ${spec}: is not a snapshot number nor an exported library folder (no such folder; use zero, current, a snapshot number or a folder written by \`insitu library export\`)`,
          { code: "BATCH_INPUT_INVALID", category: ErrorCategory.user },
        );
      }
      await options.importFolder(spec);
    },
    now: () => Date.now(),
  };
}

/** A batch line's `attachments`: a list of paths or data URIs (strings), or `{path}` / `{dataUri}` objects. */
export function attachmentSources(value: unknown, id: string): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry) => {
    if (typeof entry === "string") return entry;
    if (entry && typeof entry === "object") {
      const { path, dataUri } = entry as { path?: unknown; dataUri?: unknown };
      if (typeof dataUri === "string") return dataUri;
      if (typeof path === "string") return path;
    }
    throw new InsituError(`item "${id}": each attachment is a path or a data URI (or {path} / {dataUri})`, {
      code: "BATCH_INPUT_INVALID",
      category: ErrorCategory.user,
    });
  });
}

/** Refuses attachment paths where only data URIs may travel (a line of a batch posted over HTTP). */
export function assertDataUris(sources: string[], item: { id: string; line?: number }): void {
  const path = sources.find((source) => !source.startsWith("data:"));
  if (path === undefined) return;
  throw new InsituError(
    `${item.line === undefined ? "" : `line ${item.line}: `}item "${item.id}": attachment ${JSON.stringify(path.slice(0, 80))} is a path; only data URIs are accepted here`,
    {
      code: "BATCH_INPUT_INVALID",
      category: ErrorCategory.user,
      ...(item.line === undefined ? {} : { details: { line: item.line } }),
    },
  );
}
