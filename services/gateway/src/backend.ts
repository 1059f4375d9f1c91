import type {
  AttachmentRef,
  EvalList,
  RegistrySeries,
  Reply,
  TaskEvent,
  TaskRecord,
  TaskStatus,
  TaskSummary,
} from "@insitu/contracts";
import type { BatchRunView } from "@insitu/batch";
import type { CheckedAttachment } from "@insitu/files";
import type { BatchSubmissionInput } from "./batches/batch-body.js";
import type { SubmitTaskBody } from "./validation.js";

/** A submission as the backend forwards it: attachments already stored, only their references. */
export type TaskSubmission = Omit<SubmitTaskBody, "attachments"> & { attachments?: AttachmentRef[] };

/**
 * What the HTTP layer needs from the rest of insitu. The real one talks over the bus
 * (bus-backend.ts); unit tests pass a labelled fake, so routing, validation and SSE framing are
 * tested without a network.
 */
export interface GatewayBackend {
  submitTask(input: TaskSubmission): Promise<{ taskId: string; status: TaskStatus }>;
  /** Stores checked attachments in the task's workspace (before the task is submitted). */
  storeAttachments?(taskId: string, attachments: CheckedAttachment[]): Promise<AttachmentRef[]>;
  getTask(taskId: string): Promise<TaskRecord>;
  listTasks(limit: number | undefined): Promise<{ tasks: TaskSummary[] }>;
  /**
   * Follows a task's events from its first one (durable replay), then live. Returns a stop
   * function; `onEvent` is called in order.
   */
  followTaskEvents(taskId: string, onEvent: (event: TaskEvent) => void): () => void;
  /** Library listing (or ranked retrieval when `query` is set). JSON passed through to the client. */
  listTools(options: { query?: string; limit?: number }): Promise<unknown>;
  /** A tool's versions over time. */
  toolHistory(name: string): Promise<unknown>;
  /** Versions the approval policy sent to review (registry.review.list); absent: the routes answer 503. */
  listReviews?(options: { state?: "pending" | "approved" | "rejected"; limit?: number }): Promise<unknown>;
  /** One whole version — code, tests, permissions, its review and requesting task (registry.get). */
  getVersion?(hash: string): Promise<unknown>;
  /** Records an operator's decision on a reviewed version (registry.review.decide). */
  decideReview?(input: {
    hash: string;
    decision: "approve" | "deny";
    by: string;
    reason: string;
  }): Promise<unknown>;
  /** Convergence figures for dashboards and `insitu status`. */
  metricsSummary(): Promise<MetricsSummary>;
  /** The convergence series per query index and per batch (registry.series). */
  metricsSeries(options: { batchSize?: number; limit?: number }): Promise<Reply<typeof RegistrySeries>>;
  /** Live states of `insitu eval` runs (KV bucket `evals`), most recently updated first. */
  listEvals(options: { limit: number }): Promise<EvalList>;
}

/** GET /v1/metrics/summary. */
export interface MetricsSummary {
  /** Tools in the current library snapshot. */
  librarySize: number;
  /** Cumulative tool versions built (created, repaired, merged). */
  toolsCreated: number;
  /** Cumulative tools admitted to the library (EGL's numerator). */
  toolsAdmitted?: number;
  /** Cumulative tool calls (all outcomes). */
  toolCalls: number;
  /** Calls by outcome (success, input-error, …). */
  callsByOutcome: Record<string, number>;
  /** Evolutionary Generality Loss = tools admitted / tool calls (null before the first call). */
  egl: number | null;
  /** Successful calls / all calls (null before the first call). */
  successRate: number | null;
  /** Calls to tools created by an earlier task / all calls (null before the first call). */
  reuseRate: number | null;
  tasksSeen?: number;
  /** Current library snapshot number. */
  snapshot?: number;
  /** Most-called tools, most first. */
  topTools?: { name: string; calls: number }[];
}

/**
 * Batch runs (`/v1/batches`, docs/adr/0110). The real one is `BatchRuns` over the bus (KV
 * `batches`, the `batch-work` queue); unit tests pass a labelled fake.
 */
export interface GatewayBatches {
  /** Stores and enqueues a validated run; an identical earlier submit is returned (`created: false`). */
  submit(input: BatchSubmissionInput): Promise<{ created: boolean; view: BatchRunView }>;
  get(runId: string): Promise<BatchRunView | undefined>;
  list(limit: number): Promise<BatchRunView[]>;
  /** Prediction lines of the items whose task exists; undefined when the questions are not stored here. */
  predictions(runId: string): Promise<Record<string, unknown>[] | undefined>;
  /** Calls `onChange` after each change of the run's records. */
  watch(runId: string, onChange: () => void): Promise<{ unsubscribe(): void }>;
}
