import type { EvolverReport, SnapshotInfo, TaskRecord } from "@insitu/contracts";
import type { BatchItem } from "./input.js";
import { batchTaskId } from "./input.js";

/** One batch's figures (a line of `batches.jsonl`). */
export interface BatchRow {
  batch: number;
  items: number;
  /** Tools built by the batch's tasks. */
  created: number;
  /** Library changes committed during the batch and at its barrier (adds, replaces, merges). */
  admitted: number;
  merged: number;
  rejectedMerges: number;
  rejected: { members: string[]; stage: string; reason: string }[];
  toolCalls: number;
  /** admitted / toolCalls of this batch (0 without calls). */
  egl: number;
  /** Cumulative admitted / cumulative calls up to this batch. */
  eglCumulative: number;
  succeeded: number;
  successRate: number;
  librarySize: number;
  tokens: number;
  costUsd: number;
  wallMs: number;
  snapshot: number;
  barrier?: EvolverReport;
}

/** The run's durable state (KV bucket `batches`, key `run.<runId>`). */
export interface BatchRunState {
  runId: string;
  createdAt: string;
  total: number;
  batchSize: number;
  share: boolean;
  warmStart: string;
  /** Finished batches, in order; a re-run continues after the last. */
  rows: BatchRow[];
  status: "running" | "done";
}

/** What the runner needs; the bus implements it (see `bus-ports.ts`), tests may pass fakes. */
export interface BatchPorts {
  getTask(taskId: string): Promise<TaskRecord | undefined>;
  submit(taskId: string, item: BatchItem, admit: "now" | "at-barrier"): Promise<void>;
  /** Resolves with the task's record once it is terminal. */
  waitDone(taskId: string, signal?: AbortSignal): Promise<TaskRecord>;
  barrier(barrierId: string, signal?: AbortSignal): Promise<EvolverReport>;
  currentSnapshot(): Promise<number>;
  /** Snapshots with numbers in (from, to]. */
  snapshotsBetween(from: number, to: number): Promise<SnapshotInfo[]>;
  loadState(runId: string): Promise<BatchRunState | undefined>;
  saveState(state: BatchRunState): Promise<void>;
  /** Empties the library, rolls it back to a snapshot, or imports a folder (first start only). */
  warmStart(spec: string): Promise<void>;
  now(): number;
}

export interface BatchProgress {
  batch: number;
  batches: number;
  done: number;
  total: number;
  /** Milliseconds left, estimated from the finished tasks of this run (undefined at first). */
  etaMs?: number;
  phase: "tasks" | "barrier" | "done";
}

export interface RunBatchOptions {
  runId: string;
  items: BatchItem[];
  batchSize: number;
  concurrency: number;
  share: boolean;
  warmStart: string;
  onProgress?: (progress: BatchProgress) => void;
  /** Each item's task once it is terminal (also read-back ones of a resumed run), in end order. */
  onRecord?: (itemId: string, record: TaskRecord) => void;
  /** Each batch's row once its barrier ended (also the finished rows of a resumed run). */
  onBatch?: (row: BatchRow) => void;
  signal?: AbortSignal;
}

export interface BatchRunResult {
  state: BatchRunState;
  records: Map<string, TaskRecord>;
  /** Tasks this invocation submitted (a resumed run submits only what was missing). */
  submitted: number;
}

const TERMINAL = new Set(["succeeded", "failed", "budget-exceeded", "cancelled"]);

/**
 * Runs a questions file as batches: each batch's tasks run `concurrency` at a time, then the
 * barrier (the evolver's absorb) runs, then the next batch. Everything is keyed so a re-run
 * resumes: task ids are per (run, item) and submitting is idempotent, finished tasks are read
 * back rather than re-run, the barrier id is per (run, batch) and its report is kept.
 */
export async function runBatch(ports: BatchPorts, options: RunBatchOptions): Promise<BatchRunResult> {
  let state = await ports.loadState(options.runId);
  if (!state) {
    await ports.warmStart(options.warmStart);
    state = {
      runId: options.runId,
      createdAt: new Date(ports.now()).toISOString(),
      total: options.items.length,
      batchSize: options.batchSize,
      share: options.share,
      warmStart: options.warmStart,
      rows: [],
      status: "running",
    };
    await ports.saveState(state);
  }
  const chunks: BatchItem[][] = [];
  for (let start = 0; start < options.items.length; start += options.batchSize) {
    chunks.push(options.items.slice(start, start + options.batchSize));
  }
  const records = new Map<string, TaskRecord>();
  const started = ports.now();
  let doneThisRun = 0;
  let submitted = 0;
  let done = 0;
  const report = (batch: number, phase: BatchProgress["phase"]) => {
    const elapsed = ports.now() - started;
    const left = options.items.length - done;
    const progress: BatchProgress = {
      batch,
      batches: chunks.length,
      done,
      total: options.items.length,
      phase,
    };
    if (doneThisRun > 0) progress.etaMs = Math.round((elapsed / doneThisRun) * left);
    options.onProgress?.(progress);
  };

  for (const [index, chunk] of chunks.entries()) {
    const batch = index + 1;
    const finished = state.rows.find((row) => row.batch === batch);
    if (finished) {
      // A batch finished before a kill: read its answers back, run nothing.
      for (const item of chunk) {
        const record = await ports.getTask(batchTaskId(options.runId, item.id));
        if (record) {
          records.set(item.id, record);
          options.onRecord?.(item.id, record);
        }
      }
      options.onBatch?.(finished);
      done += chunk.length;
      report(batch, "tasks");
      continue;
    }
    const batchStarted = ports.now();
    const startSnapshot = await ports.currentSnapshot();
    const queue = [...chunk];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        options.signal?.throwIfAborted();
        const taskId = batchTaskId(options.runId, item.id);
        let record = await ports.getTask(taskId);
        if (!record) {
          await ports.submit(taskId, item, options.share ? "now" : "at-barrier");
          submitted++;
        }
        if (!record || !TERMINAL.has(record.status)) record = await ports.waitDone(taskId, options.signal);
        else doneThisRun--; // read back, not run: keep the ETA about real work
        records.set(item.id, record);
        options.onRecord?.(item.id, record);
        done++;
        doneThisRun++;
        report(batch, "tasks");
      }
    };
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(options.concurrency, chunk.length)) }, worker),
    );
    report(batch, "barrier");
    const barrier = await ports.barrier(`${options.runId}.b${batch}`, options.signal);
    const endSnapshot = await ports.currentSnapshot();
    const committed = await ports.snapshotsBetween(startSnapshot, endSnapshot);
    const admitted = committed.reduce(
      (sum, info) =>
        sum +
        (info.changeCount <= info.changes.length
          ? info.changes.filter(
              (change) => change.op === "add" || change.op === "replace" || change.op === "merge",
            ).length
          : info.changeCount),
      0,
    );
    const batchRecords = chunk.map((item) => records.get(item.id)).filter((record) => record !== undefined);
    const toolCalls = batchRecords.reduce((sum, record) => sum + record.usage.toolCalls, 0);
    const succeeded = batchRecords.filter((record) => record.status === "succeeded").length;
    const previous = state.rows;
    const cumulativeAdmitted = previous.reduce((sum, row) => sum + row.admitted, 0) + admitted;
    const cumulativeCalls = previous.reduce((sum, row) => sum + row.toolCalls, 0) + toolCalls;
    const row: BatchRow = {
      batch,
      items: chunk.length,
      created: batchRecords.reduce((sum, record) => sum + record.toolsCreated.length, 0),
      admitted,
      merged: barrier.merged.length,
      rejectedMerges: barrier.rejected.filter((entry) => entry.stage !== "model").length,
      rejected: barrier.rejected,
      toolCalls,
      egl: toolCalls === 0 ? 0 : admitted / toolCalls,
      eglCumulative: cumulativeCalls === 0 ? 0 : cumulativeAdmitted / cumulativeCalls,
      succeeded,
      successRate: chunk.length === 0 ? 0 : succeeded / chunk.length,
      librarySize: barrier.librarySize,
      tokens:
        batchRecords.reduce((sum, record) => sum + record.usage.inputTokens + record.usage.outputTokens, 0) +
        barrier.tokens,
      costUsd: batchRecords.reduce((sum, record) => sum + record.usage.costUsd, 0) + barrier.costUsd,
      wallMs: ports.now() - batchStarted,
      snapshot: endSnapshot,
      barrier,
    };
    state = { ...state, rows: [...state.rows, row] };
    await ports.saveState(state);
    options.onBatch?.(row);
  }
  state = { ...state, status: "done" };
  await ports.saveState(state);
  report(chunks.length, "done");
  return { state, records, submitted };
}
