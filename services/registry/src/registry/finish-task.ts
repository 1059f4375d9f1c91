/**
 * A task's end: absorbing its pool (or not) and recording its series point.
 */
import type { AppliedChange, RegistryFinishTask, SnapshotInfo } from "@insitu/contracts";
import { Keys, type PoolDocument, type StatsDocument } from "../documents.js";
import { type RegistryState, type Request, type Response, versionMeta, isConflict } from "./state.js";
import { commit } from "./snapshots.js";
import { noteTask, notePoint } from "./usage.js";

export async function finishTask(
  s: RegistryState,
  request: Request<typeof RegistryFinishTask>,
): Promise<Response<typeof RegistryFinishTask>> {
  const key = Keys.pool(request.taskId);
  const entry = await s.kv.get<PoolDocument>(key);
  const named = (hashes: string[] | undefined) =>
    (hashes ?? []).map((hash) => ({ name: s.view.versions.get(hash)?.name ?? "unknown_tool", hash }));
  if (!entry) {
    // A task that registered nothing: nothing to drop or offer, but it was seen.
    await noteTask(s, request.taskId);
    await notePoint(s, request.taskId);
    return { taskId: request.taskId, dropped: [], absorbed: [], offered: [] };
  }
  if (entry.value.state === "finished") {
    await notePoint(s, request.taskId);
    return {
      taskId: request.taskId,
      dropped: named(entry.value.dropped),
      absorbed: named(entry.value.absorbed),
      offered: named(entry.value.offered),
    };
  }

  // Decide from durable usage (not a replica's view, which may lag by a watch event).
  const pool = entry.value;
  const succeeded = new Set<string>();
  await Promise.all(
    pool.versions.map(async ({ hash }) => {
      const stats = await s.kv.get<StatsDocument>(Keys.stats(hash));
      if ((stats?.value.successes ?? 0) > 0) succeeded.add(hash);
    }),
  );
  const kept = new Map<string, string>();
  for (const { hash, name } of pool.versions) if (succeeded.has(hash)) kept.set(name, hash);
  const keptHashes = new Set(kept.values());
  const dropped = pool.versions.map((item) => item.hash).filter((hash) => !keptHashes.has(hash));

  let absorbed: string[] = [];
  let offered: string[] = [...keptHashes];
  let snapshot: SnapshotInfo | undefined;
  if ((request.mode ?? "absorb") === "absorb" && kept.size > 0) {
    const decide = async (tools: Map<string, string>): Promise<AppliedChange[]> => {
      absorbed = [];
      offered = [];
      const changes: AppliedChange[] = [];
      for (const [name, hash] of kept) {
        const library = tools.get(name);
        const meta = await versionMeta(s, hash);
        if (library === hash) absorbed.push(hash);
        else if (!library) {
          tools.set(name, hash);
          changes.push({ op: "add", name, hash });
          absorbed.push(hash);
        } else if (meta?.parents.includes(library)) {
          tools.set(name, hash);
          changes.push({ op: "replace", name, hash, previous: library });
          absorbed.push(hash);
        } else offered.push(hash);
      }
      return changes;
    };
    // Commit only when something changes; otherwise just decide against the current library.
    const probe = new Map(s.view.currentTools);
    if ((await decide(probe)).length > 0) {
      snapshot = await commit(s, {
        kind: "finish-task",
        reason: `tools of task ${request.taskId} that succeeded`,
        taskId: request.taskId,
        change: decide,
      });
      if (snapshot.changeCount === 0) snapshot = undefined;
    }
  }

  const finished: PoolDocument = {
    ...pool,
    state: "finished",
    finishedAt: s.now().toISOString(),
    dropped,
    offered,
    absorbed,
  };
  try {
    const revision = await s.kv.update(key, finished, entry.revision);
    await s.view.applyOwn(key, finished, revision);
  } catch (error) {
    // A concurrent finish or a late registration: answer from whatever is there now.
    if (!isConflict(error)) throw error;
    return finishTask(s, request);
  }
  await notePoint(s, request.taskId);
  const response: Response<typeof RegistryFinishTask> = {
    taskId: request.taskId,
    dropped: named(dropped),
    absorbed: named(absorbed),
    offered: named(offered),
  };
  if (snapshot) response.snapshot = snapshot;
  return response;
}
