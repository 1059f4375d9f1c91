import type { Bus, Consumer, KvBucket } from "@insitu/bus";
import { BATCHES_BUCKET, BATCH_INPUTS_BUCKET, BatchWork, type TaskRecord } from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { z } from "zod";
import { type BusBatchPortsOptions, busBatchPorts } from "./bus-ports.js";
import { type BatchItem, batchRunId, batchTaskId, parseQuestions } from "./input.js";
import { predictionLine } from "./outputs.js";
import { type BatchProgress, type BatchRow, type BatchRunState, runBatch } from "./runner.js";

/**
 * Batch runs handed to a durable work queue (docs/adr/0110): `submitBatchRun` stores the questions
 * (Object Store) and the run's settings (KV `submission.<runId>`), then enqueues the run id once;
 * `consumeBatchRuns` runs them on whichever process consumes the queue (the gateway replicas).
 * The queue item stays unacked while the run goes on; a killed consumer's item is redelivered and
 * `runBatch` resumes from `run.<runId>` — deterministic task ids mean no task is submitted twice.
 */

/** How a run was asked for: what shapes it (part of its id) and how fast to go. */
export const BatchRunSettingsSchema = z
  .object({
    batchSize: z.number().int().min(1).max(1000),
    concurrency: z.number().int().min(1).max(1000),
    shareWithinBatch: z.boolean(),
    /** `zero` (empty library), `current`, or a snapshot number. */
    warmStart: z
      .string()
      .regex(/^(zero|current|\d{1,12})$/, 'warmStart is "zero", "current" or a snapshot number'),
  })
  .strict();
export type BatchRunSettings = z.infer<typeof BatchRunSettingsSchema>;

const SubmissionSchema = BatchRunSettingsSchema.extend({
  runId: z.string(),
  total: z.number().int(),
  submittedAt: z.string(),
}).strict();
export type BatchSubmission = z.infer<typeof SubmissionSchema>;

/** The latest progress of a running run (`progress.<runId>`, written at most every few hundred ms). */
export interface BatchRunProgress extends BatchProgress {
  updatedAt: string;
  /** The last failure of the run's current attempt (it is retried by redelivery). */
  error?: { code: string; message: string };
  /** True once the queue gave up on the run (every delivery failed). */
  failed?: boolean;
}

/** What `GET /v1/batches/:id` shows. */
export interface BatchRunView {
  runId: string;
  status: "queued" | "running" | "done" | "failed";
  total: number;
  done: number;
  batches: number;
  batchSize: number;
  concurrency?: number;
  shareWithinBatch: boolean;
  warmStart: string;
  submittedAt?: string;
  createdAt?: string;
  updatedAt?: string;
  phase?: BatchProgress["phase"];
  etaMs?: number;
  error?: { code: string; message: string };
  /** Finished batches: figures and the evolver's barrier report. */
  rows: BatchRow[];
}

function inputName(runId: string): string {
  return `${runId}.jsonl`;
}

/** Validates a questions text and settings; throws BATCH_INPUT_INVALID / _TOO_LARGE naming the line. */
export function prepareBatchRun(
  text: string,
  settings: BatchRunSettings,
  options: { maxBytes?: number } = {},
): { runId: string; items: BatchItem[] } {
  const parsed = BatchRunSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    throw new InsituError(
      `invalid batch settings: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
      { code: "BATCH_INPUT_INVALID", category: ErrorCategory.user },
    );
  }
  const items = parseQuestions(text, options);
  const runId = batchRunId(text, {
    batchSize: settings.batchSize,
    share: settings.shareWithinBatch,
    warmStart: settings.warmStart,
  });
  return { runId, items };
}

export class BatchRuns {
  private constructor(
    private readonly bus: Bus,
    private readonly kv: KvBucket,
  ) {}

  static async open(bus: Bus): Promise<BatchRuns> {
    return new BatchRuns(bus, await bus.kv(BATCHES_BUCKET));
  }

  /**
   * Stores and enqueues a validated run. The same questions with the same settings are the same
   * run: a second submit returns it (`created: false`) and starts nothing.
   */
  async submit(
    text: string,
    runId: string,
    total: number,
    settings: BatchRunSettings,
  ): Promise<{ created: boolean; view: BatchRunView }> {
    const existing = await this.view(runId);
    if (existing) return { created: false, view: existing };
    const inputs = await this.bus.objects(BATCH_INPUTS_BUCKET);
    await inputs.put(inputName(runId), new TextEncoder().encode(text));
    const submission: BatchSubmission = { ...settings, runId, total, submittedAt: new Date().toISOString() };
    try {
      await this.kv.create(`submission.${runId}`, submission);
    } catch (error) {
      if (!(error instanceof InsituError && error.code === ErrorCode.conflict)) throw error;
      // Two identical submits raced: the other one stored it; the enqueue below is deduplicated.
    }
    await this.bus.enqueue(BatchWork, { runId }, { id: `batch:${runId}` });
    const view = await this.view(runId);
    return { created: true, view: view ?? queuedView(submission) };
  }

  async view(runId: string): Promise<BatchRunView | undefined> {
    const [submissionEntry, stateEntry, progressEntry] = await Promise.all([
      this.kv.get(`submission.${runId}`),
      this.kv.get<BatchRunState>(`run.${runId}`),
      this.kv.get<BatchRunProgress>(`progress.${runId}`),
    ]);
    const submission = SubmissionSchema.safeParse(submissionEntry?.value);
    return buildView(
      submission.success ? submission.data : undefined,
      stateEntry?.value,
      progressEntry?.value,
    );
  }

  /** Every run the bucket knows (submitted over HTTP or run by `insitu batch`), newest first. */
  async list(limit: number): Promise<BatchRunView[]> {
    const keys = await this.kv.keys();
    const ids = new Set(
      keys
        .map((key) => /^(?:submission|run)\.([0-9a-f]{12})$/.exec(key)?.[1])
        .filter((id): id is string => id !== undefined),
    );
    const views = (await Promise.all([...ids].map((id) => this.view(id)))).filter(
      (view): view is BatchRunView => view !== undefined,
    );
    const time = (view: BatchRunView) => view.updatedAt ?? view.createdAt ?? view.submittedAt ?? "";
    views.sort((a, b) => time(b).localeCompare(time(a)));
    return views.slice(0, limit);
  }

  /** The questions of a run submitted here (undefined for a run of `insitu batch`, whose file is the user's). */
  async items(runId: string): Promise<BatchItem[] | undefined> {
    const bytes = await (await this.bus.objects(BATCH_INPUTS_BUCKET)).get(inputName(runId));
    return bytes ? parseQuestions(new TextDecoder().decode(bytes)) : undefined;
  }

  /**
   * Prediction lines (as in `predictions.jsonl`) of the items whose task exists so far, in input
   * order; undefined when the run's questions are not stored here.
   */
  async predictions(
    runId: string,
    getTask: (taskId: string) => Promise<TaskRecord | undefined>,
  ): Promise<Record<string, unknown>[] | undefined> {
    const items = await this.items(runId);
    if (!items) return undefined;
    const lines: (Record<string, unknown> | undefined)[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < items.length; index = next++) {
        const item = items[index]!;
        const record = await getTask(batchTaskId(runId, item.id));
        if (record) lines[index] = predictionLine(runId, item, record);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, items.length) }, worker));
    return lines.filter((line) => line !== undefined);
  }

  /** Calls `onChange` whenever the run's state, progress or submission changes (changes after the call). */
  async watch(runId: string, onChange: () => void): Promise<{ unsubscribe(): void }> {
    return this.kv.watch(() => onChange(), `*.${runId}`);
  }

  /**
   * Runs submitted runs as their queue items arrive. Each run's progress is written to
   * `progress.<runId>` (throttled); a failing run is retried by redelivery and marked failed on the
   * last one.
   */
  async consume(options: {
    concurrency: number;
    ackWaitMs: number;
    maxDeliver: number;
    ports?: BusBatchPortsOptions;
    progressEveryMs?: number;
    onError?: (runId: string, error: InsituError) => void;
  }): Promise<Consumer> {
    const ports = await busBatchPorts(this.bus, { ...options.ports, attachmentPaths: false });
    return this.bus.consume(
      BatchWork,
      async ({ runId }, context) => {
        const submission = SubmissionSchema.safeParse((await this.kv.get(`submission.${runId}`))?.value);
        const items = await this.items(runId);
        if (!submission.success || !items) {
          // Never retried: the run's stored input is gone or unreadable.
          await this.writeProgress(runId, {
            batch: 0,
            batches: 0,
            done: 0,
            total: 0,
            phase: "done",
            updatedAt: new Date().toISOString(),
            failed: true,
            error: { code: "BATCH_INPUT_MISSING", message: `run ${runId}: its stored questions are missing` },
          });
          return;
        }
        const settings = submission.data;
        // A resumed run first reads its finished tasks back, counting up from the last batch it
        // finished; what clients saw before the interruption is not taken back meanwhile.
        const floor = (await this.kv.get<BatchRunProgress>(`progress.${runId}`))?.value?.done ?? 0;
        let last: BatchRunProgress | undefined;
        let lastWrite = 0;
        let writing: Promise<void> = Promise.resolve();
        const onProgress = (progress: BatchProgress) => {
          if (progress.done < floor && progress.phase === "tasks") return;
          last = { ...progress, updatedAt: new Date().toISOString() };
          const now = Date.now();
          if (progress.phase === "tasks" && now - lastWrite < (options.progressEveryMs ?? 250)) return;
          lastWrite = now;
          const snapshot = last;
          writing = writing.then(() => this.writeProgress(runId, snapshot)).catch(() => undefined);
        };
        try {
          await runBatch(ports, {
            runId,
            items,
            batchSize: settings.batchSize,
            concurrency: settings.concurrency,
            share: settings.shareWithinBatch,
            warmStart: settings.warmStart,
            onProgress,
            signal: context.signal,
          });
          await writing;
          if (last) await this.writeProgress(runId, { ...last, updatedAt: new Date().toISOString() });
        } catch (error) {
          await writing;
          if (context.signal.aborted) throw error;
          const typed = InsituError.from(error);
          options.onError?.(runId, typed);
          const final = context.deliveryCount >= options.maxDeliver;
          await this.writeProgress(runId, {
            ...(last ?? { batch: 0, batches: 0, done: 0, total: settings.total, phase: "tasks" as const }),
            updatedAt: new Date().toISOString(),
            error: { code: typed.code, message: typed.message },
            ...(final ? { failed: true } : {}),
          }).catch(() => undefined);
          throw typed;
        }
      },
      {
        concurrency: options.concurrency,
        ackWaitMs: options.ackWaitMs,
        maxDeliver: options.maxDeliver,
        backoffMs: [1_000, 5_000, 15_000, 30_000],
      },
    );
  }

  private async writeProgress(runId: string, progress: BatchRunProgress): Promise<void> {
    await this.kv.put(`progress.${runId}`, progress);
  }
}

function queuedView(submission: BatchSubmission): BatchRunView {
  return {
    runId: submission.runId,
    status: "queued",
    total: submission.total,
    done: 0,
    batches: Math.ceil(submission.total / submission.batchSize),
    batchSize: submission.batchSize,
    concurrency: submission.concurrency,
    shareWithinBatch: submission.shareWithinBatch,
    warmStart: submission.warmStart,
    submittedAt: submission.submittedAt,
    rows: [],
  };
}

/** Folds the three records of a run into what a client sees. */
export function buildView(
  submission: BatchSubmission | undefined,
  state: BatchRunState | undefined,
  progress: BatchRunProgress | undefined,
): BatchRunView | undefined {
  if (!submission && !state) return undefined;
  const total = state?.total ?? submission?.total ?? 0;
  const batchSize = state?.batchSize ?? submission?.batchSize ?? 1;
  const rows = state?.rows ?? [];
  const doneByRows = rows.reduce((sum, row) => sum + row.items, 0);
  const status: BatchRunView["status"] =
    state?.status === "done"
      ? "done"
      : progress?.failed
        ? "failed"
        : state || progress
          ? "running"
          : "queued";
  const view: BatchRunView = {
    runId: state?.runId ?? submission?.runId ?? "",
    status,
    total,
    done: status === "done" ? total : Math.max(doneByRows, progress?.done ?? 0),
    batches: Math.ceil(total / batchSize),
    batchSize,
    shareWithinBatch: state?.share ?? submission?.shareWithinBatch ?? false,
    warmStart: state?.warmStart ?? submission?.warmStart ?? "zero",
    rows,
  };
  if (submission) {
    view.concurrency = submission.concurrency;
    view.submittedAt = submission.submittedAt;
  }
  if (state) view.createdAt = state.createdAt;
  if (progress) {
    view.updatedAt = progress.updatedAt;
    if (status !== "done") {
      view.phase = progress.phase;
      if (progress.etaMs !== undefined) view.etaMs = progress.etaMs;
    }
    if (progress.error && status !== "done") view.error = progress.error;
  }
  return view;
}
