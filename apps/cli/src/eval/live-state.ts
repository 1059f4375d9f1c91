import { createHash } from "node:crypto";
import type { EvalState, TaskRecord } from "@insitu/contracts";
import { EVALS_BUCKET, EVAL_MAX_POINTS, EvalStateSchema } from "@insitu/contracts";
import type { RunMetrics } from "@insitu/eval";
import type { BatchRow } from "@insitu/batch";

/** Where the live state goes: the bus's KV bucket `evals` in the CLI, a labelled fake in unit tests. */
export interface EvalStateStore {
  put(key: string, value: EvalState): Promise<unknown>;
}

export { EVALS_BUCKET };

/** Live states are kept a week (bucket max age) so a dashboard shows recent evals, not all of them. */
export const EVALS_TTL_MS = 7 * 24 * 3600_000;

/** One id per (benchmark, output folder): re-running the same command resumes the same entry. */
export function evalIdFor(benchmark: string, outDir: string): string {
  const slug = benchmark.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 32) || "eval";
  return `${slug}-${createHash("sha256").update(outDir).digest("hex").slice(0, 12)}`;
}

/**
 * The running eval's figures, written to the store after every change (an answered task, a
 * finished batch, judging progress), so the dashboard draws the report's plots while the eval
 * runs. Writing is best-effort: a store that fails is reported once through `onError` and the eval
 * goes on (the report on disk is the record; this is a view of it).
 */
export class LiveEvalState {
  private state: EvalState;
  private chain: Promise<void> = Promise.resolve();
  private failedOnce = false;

  constructor(
    private readonly store: EvalStateStore,
    init: { evalId: string; benchmark: string; items: number; runs: number },
    private readonly now: () => Date = () => new Date(),
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    const time = this.now().toISOString();
    this.state = {
      evalId: init.evalId,
      benchmark: init.benchmark,
      status: "asking",
      startedAt: time,
      updatedAt: time,
      run: 1,
      runs: Math.max(1, init.runs),
      items: init.items,
      ...emptyRun(),
    };
  }

  get current(): EvalState {
    return structuredClone(this.state);
  }

  /** A run starts asking its questions: its figures start empty. */
  startRun(run: number): Promise<void> {
    return this.update({ status: "asking", run, ...emptyRun() });
  }

  /** A task ended (any status): one more answered query and its cost. */
  answered(record: Pick<TaskRecord, "usage">): Promise<void> {
    const answered = this.state.answered + 1;
    return this.update({
      answered,
      costPerQuery: thin([
        ...this.state.costPerQuery,
        { query: answered, costUsd: Math.max(0, record.usage.costUsd ?? 0) },
      ]),
    });
  }

  /** A batch's barrier ended: one more point of library size and cumulative EGL. */
  batch(row: Pick<BatchRow, "batch" | "librarySize" | "eglCumulative">): Promise<void> {
    // The report's curve (batches.jsonl's eglCumulative, 0 before any call), point for point.
    return this.update({
      batches: thin([
        ...this.state.batches.filter((point) => point.batch !== row.batch),
        {
          batch: row.batch,
          queries: this.state.answered,
          librarySize: row.librarySize,
          egl: row.eglCumulative,
        },
      ]),
    });
  }

  judging(judged: number): Promise<void> {
    return this.update({ status: "judging", judged });
  }

  /** The run is judged: its accuracy overall and per category. */
  judgedRun(metrics: RunMetrics): Promise<void> {
    return this.update({
      judged: metrics.items,
      accuracy: metrics.accuracy.accuracy,
      byCategory: Object.entries(metrics.byCategory).map(([name, p]) => ({
        name: name.slice(0, 200),
        correct: p.correct,
        total: p.total,
        accuracy: p.accuracy,
      })),
    });
  }

  done(): Promise<void> {
    return this.update({ status: "done" });
  }

  failed(reason: string): Promise<void> {
    return this.update({ status: "failed", error: reason.slice(0, 2000) });
  }

  /** Resolves once every write so far has been tried. */
  flush(): Promise<void> {
    return this.chain;
  }

  private update(change: Partial<EvalState>): Promise<void> {
    this.state = { ...this.state, ...change, updatedAt: this.now().toISOString() };
    // Validated before it leaves: a state the gateway would refuse is a bug here, not there.
    const value = EvalStateSchema.parse(this.state);
    this.chain = this.chain.then(async () => {
      try {
        await this.store.put(value.evalId, value);
      } catch (error) {
        if (!this.failedOnce) this.onError(error);
        this.failedOnce = true;
      }
    });
    return this.chain;
  }
}

/** At most `max` points: past it, every other point is dropped (the newest is always kept). */
export function thin<T>(points: T[], max = EVAL_MAX_POINTS): T[] {
  if (points.length <= max) return points;
  const kept = points.filter((_, index) => index % 2 === 0);
  const last = points[points.length - 1] as T;
  if (kept[kept.length - 1] !== last) kept.push(last);
  return kept;
}

/** The figures of a run that has not answered anything yet. */
function emptyRun(): Pick<
  EvalState,
  "answered" | "judged" | "accuracy" | "byCategory" | "batches" | "costPerQuery"
> {
  return { answered: 0, judged: 0, accuracy: null, byCategory: [], batches: [], costPerQuery: [] };
}
