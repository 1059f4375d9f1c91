import type { SeriesBatch, SeriesPoint } from "@insitu/contracts";
import type { SeriesDocument } from "./documents.js";

const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

/**
 * The convergence series from the per-task points (ADR 0056): ordered by finish time (then task id),
 * numbered from 1 (the query index); batches are consecutive runs of `batchSize` points, as the
 * original forms its batches from contiguous chunks of the query stream. A batch's `egl` is the
 * paper's EGL(t) (cumulative at its end); `batchEgl` is c_t / u_t within it.
 */
export function convergenceSeries(
  documents: SeriesDocument[],
  batchSize: number,
  limit: number,
): { total: number; points: SeriesPoint[]; batchSize: number; batches: SeriesBatch[] } {
  const sorted = [...documents].sort((left, right) =>
    left.at < right.at ? -1 : left.at > right.at ? 1 : left.taskId < right.taskId ? -1 : 1,
  );
  const points: SeriesPoint[] = sorted.map((document, index) => ({
    index: index + 1,
    taskId: document.taskId,
    at: document.at,
    toolCalls: document.toolCalls,
    toolsAdmitted: document.toolsAdmitted,
    versionsBuilt: document.versionsBuilt,
    librarySize: document.librarySize,
    egl: ratio(document.toolsAdmitted, document.toolCalls),
    successRate: ratio(document.successes, document.toolCalls),
    reuseRate: ratio(document.reuseCalls, document.toolCalls),
  }));
  const batches: SeriesBatch[] = [];
  for (let start = 0; start < sorted.length; start += batchSize) {
    const end = Math.min(sorted.length, start + batchSize) - 1;
    const last = sorted[end] as SeriesDocument;
    const before = start > 0 ? sorted[start - 1] : undefined;
    const calls = last.toolCalls - (before?.toolCalls ?? 0);
    batches.push({
      batch: batches.length + 1,
      fromIndex: start + 1,
      toIndex: end + 1,
      toolCalls: Math.max(0, calls),
      toolsAdmitted: Math.max(0, last.toolsAdmitted - (before?.toolsAdmitted ?? 0)),
      versionsBuilt: Math.max(0, last.versionsBuilt - (before?.versionsBuilt ?? 0)),
      librarySize: last.librarySize,
      egl: ratio(last.toolsAdmitted, last.toolCalls),
      batchEgl: calls > 0 ? Math.max(0, last.toolsAdmitted - (before?.toolsAdmitted ?? 0)) / calls : null,
      successRate: ratio(last.successes - (before?.successes ?? 0), calls),
      reuseRate: ratio(last.reuseCalls - (before?.reuseCalls ?? 0), calls),
    });
  }
  return { total: points.length, points: points.slice(-limit), batchSize, batches };
}
