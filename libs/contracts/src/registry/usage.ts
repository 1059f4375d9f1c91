// Usage records, stats, and the convergence series.
// Part of the registry domain's contracts (see ./records.ts); served by `services/registry`.
import { OutcomeStatusSchema } from "@insitu/tool-kit";
import { z } from "zod";
import { SignedUsageBatchSchema } from "../attestation.js";
import { defineEndpoint } from "../define.js";
import { ContentHash, TaskId, ToolName } from "../envelope.js";
import { ToolCallOutcome } from "../task.js";
import { UsageStatsSchema } from "./records.js";

/** One tool call's outcome as recorded. */
export const UsageRecordSchema = z
  .object({
    /** Unique per call; recording the same call id twice counts it once (safe to retry). */
    callId: z.string().min(1).max(128),
    taskId: TaskId,
    hash: ContentHash,
    outcome: ToolCallOutcome,
    /** The sandbox's status, when the call reached the sandbox. */
    sandboxStatus: OutcomeStatusSchema.optional(),
    latencyMs: z.number().min(0),
    /** ISO-8601 time of the call (default: when recorded). */
    time: z.string().max(40).optional(),
  })
  .strict();

export type UsageRecord = z.infer<typeof UsageRecordSchema>;

export const RegistryRecordUsage = defineEndpoint({
  service: "registry",
  name: "record-usage",
  subject: "registry.record-usage",
  version: 1,
  description:
    "Records tool-call outcomes (success, input error, execution failure, timeout, denied, output error) with latency and task id; aggregates per version and per name. Idempotent per callId.",
  request: z
    .object({
      calls: z.array(UsageRecordSchema).min(1).max(200),
      /**
       * The caller's signature over `calls` (the executor's or the gateway's key). Required: an
       * unsigned or untrusted batch is refused with EVIDENCE_UNVERIFIED and nothing is recorded.
       */
      signature: SignedUsageBatchSchema.optional(),
    })
    .strict(),
  response: z
    .object({
      recorded: z.number().int().min(0),
      /** Call ids already recorded before (not counted again). */
      duplicates: z.array(z.string()),
    })
    .strict(),
});

export const ConvergenceStatsSchema = z
  .object({
    snapshot: z.number().int().min(0),
    librarySize: z.number().int().min(0),
    /** Versions built by tasks (created, repaired, merged; not imported), cumulative. */
    toolsCreated: z.number().int().min(0),
    toolCalls: z.number().int().min(0),
    callsByOutcome: z.record(z.string(), z.number().int().min(0)),
    /**
     * Evolutionary Generality Loss as the paper defines it: tools admitted to the library /
     * tool calls, cumulative (ADR 0056); 0 with no calls (the gateway reports null then, and the
     * `insitu_egl_ratio` metric is absent).
     */
    egl: z.number().min(0),
    /** Tools admitted to the library so far (versions that entered a snapshot; not imported). */
    toolsAdmitted: z.number().int().min(0).optional(),
    successRate: z.number().min(0).max(1),
    /** Calls to tools created by an earlier (other) task / all calls. */
    reuseRate: z.number().min(0).max(1),
    tasksSeen: z.number().int().min(0),
    /** Most-called tool names, most first. */
    topTools: z.array(z.object({ name: ToolName, calls: z.number().int().min(0) }).strict()),
  })
  .strict();

export type ConvergenceStats = z.infer<typeof ConvergenceStatsSchema>;

export const RegistryStats = defineEndpoint({
  service: "registry",
  name: "stats",
  subject: "registry.stats",
  version: 1,
  description:
    "Convergence figures of the whole library (EGL, reuse, success, size, tasks) and, when asked, the usage of one name or one version.",
  request: z
    .object({
      name: ToolName.optional(),
      hash: ContentHash.optional(),
      /** How many top tools to list (default 10). */
      top: z.number().int().min(0).max(100).optional(),
    })
    .strict(),
  response: z
    .object({
      global: ConvergenceStatsSchema,
      /** Usage of `name` (all its versions) or of `hash`, when asked. */
      tool: UsageStatsSchema.optional(),
    })
    .strict(),
});

/** One point of the convergence series: cumulative figures when a task finished. */
export const SeriesPointSchema = z
  .object({
    /** 1-based query index (order in which tasks finished). */
    index: z.number().int().min(1),
    taskId: TaskId,
    at: z.string(),
    toolCalls: z.number().int().min(0),
    toolsAdmitted: z.number().int().min(0),
    versionsBuilt: z.number().int().min(0),
    librarySize: z.number().int().min(0),
    /** Cumulative EGL (admitted / calls); null before the first call. */
    egl: z.number().min(0).nullable(),
    /** Cumulative success share; null before the first call. */
    successRate: z.number().min(0).max(1).nullable(),
    /** Cumulative reuse share; null before the first call. */
    reuseRate: z.number().min(0).max(1).nullable(),
  })
  .strict();

export type SeriesPoint = z.infer<typeof SeriesPointSchema>;

/** Figures of one batch of consecutive tasks. */
export const SeriesBatchSchema = z
  .object({
    /** 1-based batch number. */
    batch: z.number().int().min(1),
    /** Query indexes covered (inclusive). */
    fromIndex: z.number().int().min(1),
    toIndex: z.number().int().min(1),
    /** Calls, admissions and versions built within the batch. */
    toolCalls: z.number().int().min(0),
    toolsAdmitted: z.number().int().min(0),
    versionsBuilt: z.number().int().min(0),
    /** Library size at the batch's end. */
    librarySize: z.number().int().min(0),
    /** Cumulative EGL at the batch's end (the paper's EGL(t)); null before any call. */
    egl: z.number().min(0).nullable(),
    /** Admitted / calls within the batch (c_t / u_t); null when the batch made no call. */
    batchEgl: z.number().min(0).nullable(),
    successRate: z.number().min(0).max(1).nullable(),
    reuseRate: z.number().min(0).max(1).nullable(),
  })
  .strict();

export type SeriesBatch = z.infer<typeof SeriesBatchSchema>;

export const RegistrySeries = defineEndpoint({
  service: "registry",
  name: "series",
  subject: "registry.series",
  version: 1,
  description:
    "The convergence series: library size, EGL (tools admitted / tool calls), success and reuse per query index (one point per finished task) and per batch of consecutive tasks.",
  request: z
    .object({
      /** Tasks per batch (default 16, the paper's B). */
      batchSize: z.number().int().min(1).max(10_000).optional(),
      /** The most recent points returned (default 2000); batches always cover every point. */
      limit: z.number().int().min(1).max(5000).optional(),
    })
    .strict(),
  response: z
    .object({
      /** Points recorded in all. */
      total: z.number().int().min(0),
      points: z.array(SeriesPointSchema),
      batchSize: z.number().int().min(1),
      batches: z.array(SeriesBatchSchema),
    })
    .strict(),
});
