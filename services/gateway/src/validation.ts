import { BatchRunId, TaskId, TaskOptionsSchema, ToolName } from "@insitu/contracts";
import type { z } from "zod";
import { z as zod } from "zod";
import { invalidRequest } from "./errors.js";

/**
 * Inputs of the public HTTP API. Strict: an unknown field is an error the client hears about,
 * not something silently dropped.
 */
export const SubmitTaskBodySchema = zod
  .object({
    question: zod.string().trim().min(1, "question must not be empty").max(50_000),
    options: TaskOptionsSchema.optional(),
    /** Client-chosen id makes a submit idempotent (a retry returns the same task). */
    taskId: TaskId.optional(),
    /** Files for the question, base64 (a multipart body sends them as file parts instead). */
    attachments: zod
      .array(
        zod
          .object({
            name: zod.string().max(1000),
            /** What the client says it is; checked against the content, refused when they disagree. */
            mediaType: zod.string().max(200).optional(),
            data: zod.base64("data must be base64"),
          })
          .strict(),
      )
      .max(64)
      .optional(),
  })
  .strict();
export type SubmitTaskBody = z.infer<typeof SubmitTaskBodySchema>;

export const TaskIdParamSchema = zod.object({ id: TaskId }).strict();
export const ToolNameParamSchema = zod.object({ name: ToolName }).strict();

export const ListToolsQuerySchema = zod
  .object({
    /** Free-text query: ranked retrieval instead of the plain list. */
    q: zod.string().trim().min(1).max(2000).optional(),
    limit: zod.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();
export type ListToolsQuery = z.infer<typeof ListToolsQuerySchema>;

/** GET /v1/evals?limit=N (default 10, at most 20: a state may be ~200 KB). */
export const ListEvalsQuerySchema = zod
  .object({ limit: zod.coerce.number().int().min(1).max(20).optional() })
  .strict();

/** Batch run ids: 12 hex digits (a hash of the questions and the run's options). */
export const BatchIdParamSchema = zod.object({ id: BatchRunId }).strict();
export const BatchListQuerySchema = zod
  .object({ limit: zod.coerce.number().int().min(1).max(200).optional() })
  .strict();

export const TaskListQuerySchema = zod
  .object({ limit: zod.coerce.number().int().min(1).max(500).optional() })
  .strict();

/** Parses `value` or throws INVALID_REQUEST naming every bad field (`body.question: …`). */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  where: string,
): z.infer<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 20).map((issue) => ({
    path: [where, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  throw invalidRequest(
    `invalid ${where}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`,
    issues,
  );
}

/** URLSearchParams → plain object (last value wins). */
export function queryObject(params: URLSearchParams): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of params) result[key] = value;
  return result;
}

/** A tool version in a path: its content hash, with or without the `sha256:` prefix. */
export const VersionHashParamSchema = zod
  .object({
    hash: zod
      .string()
      .regex(/^(sha256:)?[0-9a-f]{64}$/, "a version is its content hash: sha256:<64 hex digits>")
      .transform((hash) => (hash.startsWith("sha256:") ? hash : `sha256:${hash}`)),
  })
  .strict();

export const ListReviewsQuerySchema = zod
  .object({
    state: zod.enum(["pending", "approved", "rejected"]).optional(),
    limit: zod.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

/** An operator's decision on a version waiting for review (docs/adr/0130). */
export const ReviewDecisionBodySchema = zod
  .object({
    decision: zod.enum(["approve", "deny"]),
    /** Who decides (recorded in the version's history). */
    by: zod.string().trim().min(1).max(200),
    reason: zod.string().trim().min(1, "say why").max(2000),
  })
  .strict();
