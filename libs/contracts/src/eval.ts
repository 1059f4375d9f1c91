// The live state of an `insitu eval` run, for the dashboard: written by the CLI as it goes
// (apps/cli/src/eval/live-state.ts) into the KV bucket `evals`, served by the gateway at
// GET /v1/evals. The same figures as the eval's report plots: accuracy per category, library size
// and EGL vs queries, cost per query.
import { z } from "zod";

/** KV bucket of live eval states (key = {@link EvalStateSchema} `evalId`). */
export const EVALS_BUCKET = "evals";

/**
 * Points kept per curve: a state stays far below NATS's 1 MiB payload (≈ 2 × 2,000 × 60 bytes);
 * a longer eval keeps every other point (ADR 0097), as a plot would.
 */
export const EVAL_MAX_POINTS = 2000;

export const EvalId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "letters, digits, '_' and '-' only");

const Count = z.number().int().min(0);
/** A percentage 0–100, or null when there is nothing to divide by. */
const Percent = z.number().min(0).max(100).nullable();

export const EvalCategorySchema = z
  .object({
    name: z.string().max(200),
    correct: Count,
    total: Count,
    accuracy: Percent,
  })
  .strict();

export const EvalBatchPointSchema = z
  .object({
    batch: z.number().int().min(1),
    /** Queries answered when the batch's barrier ended (the x of the convergence curves). */
    queries: Count,
    librarySize: Count,
    /** Cumulative EGL (Σ tools admitted ÷ Σ tool calls so far); null before any call. */
    egl: z.number().min(0).nullable(),
  })
  .strict();

export const EvalStateSchema = z
  .object({
    evalId: EvalId,
    benchmark: z.string().min(1).max(64),
    /** `asking` (insitu batch runs the questions), `judging`, then `done` or `failed`. */
    status: z.enum(["asking", "judging", "done", "failed"]),
    startedAt: z.string().max(40),
    updatedAt: z.string().max(40),
    /** 1-based run being worked on (with --repeats), of `runs`. */
    run: z.number().int().min(1),
    runs: z.number().int().min(1),
    /** Dataset items in the run (the denominator: missing = wrong). */
    items: Count,
    /** Items whose task ended (any status) in this run. */
    answered: Count,
    /** Items judged in this run. */
    judged: Count,
    /** Overall accuracy of the current run once judged (null before). */
    accuracy: Percent,
    /** Accuracy per category of the current run once judged (empty before). */
    byCategory: z.array(EvalCategorySchema).max(200),
    /** Convergence points of the current run, one per finished batch. */
    batches: z.array(EvalBatchPointSchema).max(EVAL_MAX_POINTS),
    /** USD per answered query in answer order (1-based index), for the cost-per-query curve. */
    costPerQuery: z
      .array(z.object({ query: z.number().int().min(1), costUsd: z.number().min(0) }).strict())
      .max(EVAL_MAX_POINTS),
    /** Why the eval stopped, when `failed`. */
    error: z.string().max(2000).optional(),
  })
  .strict();
export type EvalState = z.infer<typeof EvalStateSchema>;
export type EvalCategory = z.infer<typeof EvalCategorySchema>;
export type EvalBatchPoint = z.infer<typeof EvalBatchPointSchema>;

/** GET /v1/evals: the latest evals, most recently updated first. */
export const EvalListSchema = z.object({ evals: z.array(EvalStateSchema) }).strict();
export type EvalList = z.infer<typeof EvalListSchema>;
