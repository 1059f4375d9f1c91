/**
 * Usage and metrics: recorded calls, per-task notes, stats, convergence and the series.
 */
import type {
  ConvergenceStats,
  RegistryRecordUsage,
  RegistrySeries,
  SeriesBatch,
  RegistryStats,
  UsageRecord,
} from "@insitu/contracts";
import { notFound } from "@insitu/errors";
import {
  Keys,
  MAX_TRACKED_TASKS,
  type SeriesDocument,
  RECENT_CALL_IDS,
  type StatsDocument,
} from "../documents.js";
import { checkUsageEvidence } from "../evidence-gate.js";
import { convergenceSeries } from "../series.js";
import {
  type RegistryState,
  type Request,
  type Response,
  MAX_ATTEMPTS,
  freshLibrary,
  freshUsage,
  versionMeta,
  callKey,
  isConflict,
} from "./state.js";

export async function recordUsage(
  s: RegistryState,
  request: Request<typeof RegistryRecordUsage>,
): Promise<Response<typeof RegistryRecordUsage>> {
  checkUsageEvidence(request, s.options.trust);
  const duplicates: string[] = [];
  let recorded = 0;
  for (const call of request.calls) {
    if (await recordCall(s, call)) recorded++;
    else duplicates.push(call.callId);
  }
  return { recorded, duplicates };
}

export async function recordCall(s: RegistryState, call: UsageRecord): Promise<boolean> {
  const meta = await versionMeta(s, call.hash);
  if (!meta) throw notFound(`version ${call.hash}`, { hash: call.hash });
  const time = call.time ?? s.now().toISOString();
  const key = Keys.stats(call.hash);
  let entry = await s.kv.get<StatsDocument>(key);
  for (let attempt = 0; ; attempt++) {
    const stats: StatsDocument = entry?.value ?? {
      hash: call.hash,
      name: meta.name,
      calls: 0,
      byOutcome: {},
      successes: 0,
      reuseCalls: 0,
      latencySumMs: 0,
      tasks: [],
      recentCallIds: [],
    };
    if (stats.recentCallIds.includes(call.callId)) return false;
    const next: StatsDocument = {
      ...stats,
      calls: stats.calls + 1,
      byOutcome: { ...stats.byOutcome, [call.outcome]: (stats.byOutcome[call.outcome] ?? 0) + 1 },
      // A tool's answer that it cannot serve an input is the tool working (ADR 0057).
      successes: stats.successes + (call.outcome === "success" || call.outcome === "rejected-input" ? 1 : 0),
      reuseCalls: stats.reuseCalls + (meta.createdByTask !== call.taskId ? 1 : 0),
      latencySumMs: stats.latencySumMs + call.latencyMs,
      lastCallAt: !stats.lastCallAt || time > stats.lastCallAt ? time : stats.lastCallAt,
      tasks:
        stats.tasks.includes(call.taskId) || stats.tasks.length >= MAX_TRACKED_TASKS
          ? stats.tasks
          : [...stats.tasks, call.taskId],
      recentCallIds: [...stats.recentCallIds, call.callId].slice(-RECENT_CALL_IDS),
    };
    try {
      const revision = entry ? await s.kv.update(key, next, entry.revision) : await s.kv.create(key, next);
      await s.view.applyOwn(key, next, revision);
      break;
    } catch (error) {
      if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
      entry = await s.kv.get<StatsDocument>(key);
    }
  }
  // The raw record, for audits and replays (the aggregate above is what counts).
  await s.calls.put(callKey(call.callId), { ...call, time, name: meta.name });
  await noteTask(s, call.taskId);
  return true;
}

/** Records that a task touched the registry (counted once, durably). */
export async function noteTask(s: RegistryState, taskId: string): Promise<void> {
  if (s.view.tasks.has(taskId)) return;
  const document = { taskId, firstSeen: s.now().toISOString() };
  try {
    const revision = await s.kv.create(Keys.task(taskId), document);
    await s.view.applyOwn(Keys.task(taskId), document, revision);
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
}

export async function stats(
  s: RegistryState,
  request: Request<typeof RegistryStats>,
): Promise<Response<typeof RegistryStats>> {
  await freshLibrary(s);
  const response: Response<typeof RegistryStats> = { global: convergence(s, request.top ?? 10) };
  if (request.hash) response.tool = await freshUsage(s, [request.hash]);
  else if (request.name) response.tool = await freshUsage(s, s.view.byName.get(request.name) ?? []);
  return response;
}

/** The convergence figures, all derived from durable state (so a restart resets nothing). */
export function convergence(s: RegistryState, top = 10): ConvergenceStats {
  let toolsCreated = 0;
  for (const meta of s.view.versions.values()) if (meta.origin !== "imported") toolsCreated++;
  const admitted = toolsAdmitted(s);
  let toolCalls = 0;
  let successes = 0;
  let reuseCalls = 0;
  const callsByOutcome: Record<string, number> = {};
  const byName = new Map<string, number>();
  for (const stats of s.view.stats.values()) {
    toolCalls += stats.calls;
    successes += stats.successes;
    reuseCalls += stats.reuseCalls;
    for (const [outcome, count] of Object.entries(stats.byOutcome))
      callsByOutcome[outcome] = (callsByOutcome[outcome] ?? 0) + count;
    byName.set(stats.name, (byName.get(stats.name) ?? 0) + stats.calls);
  }
  const topTools = [...byName]
    .sort((left, right) => right[1] - left[1] || (left[0] < right[0] ? -1 : 1))
    .slice(0, top)
    .map(([name, calls]) => ({ name, calls }));
  return {
    snapshot: s.view.snapshotNumber,
    librarySize: s.view.currentTools.size,
    toolsCreated,
    toolCalls,
    callsByOutcome,
    egl: toolCalls === 0 ? 0 : admitted / toolCalls,
    toolsAdmitted: admitted,
    successRate: toolCalls === 0 ? 0 : successes / toolCalls,
    reuseRate: toolCalls === 0 ? 0 : reuseCalls / toolCalls,
    tasksSeen: s.view.tasks.size,
    topTools,
  };
}

/**
 * Tools admitted to the library: versions that entered some snapshot, imported ones excepted
 * (EGL's numerator, ADR 0056). A repaired or merged version that replaced the library's counts
 * once; a version built and never admitted (dropped, or offered and not merged) does not.
 */
export function toolsAdmitted(s: RegistryState): number {
  let admitted = 0;
  for (const hash of s.view.everInLibrary) {
    const meta = s.view.versions.get(hash);
    if (meta && meta.origin !== "imported") admitted++;
  }
  return admitted;
}

/** Records the cumulative figures as a finished task's series point (once per task). */
export async function notePoint(s: RegistryState, taskId: string): Promise<void> {
  if (s.view.series.has(taskId)) return;
  const figures = convergence(s, 0);
  let successes = 0;
  let reuseCalls = 0;
  for (const stats of s.view.stats.values()) {
    successes += stats.successes;
    reuseCalls += stats.reuseCalls;
  }
  const document: SeriesDocument = {
    taskId,
    at: s.now().toISOString(),
    toolCalls: figures.toolCalls,
    successes,
    reuseCalls,
    toolsAdmitted: figures.toolsAdmitted ?? 0,
    versionsBuilt: figures.toolsCreated,
    librarySize: figures.librarySize,
  };
  try {
    const revision = await s.kv.create(Keys.series(taskId), document);
    await s.view.applyOwn(Keys.series(taskId), document, revision);
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
}

/** EGL over the last `window` finished tasks, and the last complete batch (for the gauges). */
export function seriesFigures(
  s: RegistryState,
  window: number,
  batchSize: number,
): { windowEgl: number | null; lastBatch: SeriesBatch | undefined } {
  const documents = [...s.view.series.values()];
  const { batches } = convergenceSeries(documents, batchSize, 1);
  const complete = batches.filter((batch) => batch.toIndex - batch.fromIndex + 1 === batchSize);
  // Points are cumulative: the window is the newest point minus the one just before the window.
  const points = documents.sort((left, right) => (left.at < right.at ? -1 : left.at > right.at ? 1 : 0));
  const newest = points[points.length - 1];
  const base = points.length > window ? points[points.length - 1 - window] : undefined;
  let windowEgl: number | null = null;
  if (newest) {
    const calls = newest.toolCalls - (base?.toolCalls ?? 0);
    if (calls > 0) windowEgl = Math.max(0, newest.toolsAdmitted - (base?.toolsAdmitted ?? 0)) / calls;
  }
  return { windowEgl, lastBatch: complete[complete.length - 1] };
}

/** The convergence series per query index and per batch (ADR 0056). */
export async function series(
  s: RegistryState,
  request: Request<typeof RegistrySeries>,
): Promise<Response<typeof RegistrySeries>> {
  await freshLibrary(s);
  return convergenceSeries([...s.view.series.values()], request.batchSize ?? 16, request.limit ?? 2000);
}
