// Events (`task.events.<taskId>`): every task's progress.
// Part of the task domain's contracts (see ../task.ts).
import { z } from "zod";
import { defineEvent } from "../define.js";
import { TaskId } from "../envelope.js";
import { TaskAnswerSchema, TaskErrorSchema, TaskStatusSchema, TaskUsageSchema } from "./records.js";
import { ToolCallOutcome } from "./step-results.js";

const eventBase = {
  taskId: TaskId,
  /** ISO-8601. */
  time: z.string().max(40),
};

export const TaskEventSchema = z.discriminatedUnion("kind", [
  z.object({ ...eventBase, kind: z.literal("task-start"), question: z.string() }).strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("plan-end"),
      round: z.number().int(),
      toolsChosen: z.array(z.string()),
      toolsRequested: z.array(z.string()),
      candidates: z.number().int(),
      guidance: z.string(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("tool-build-start"),
      round: z.number().int(),
      name: z.string(),
      description: z.string(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("tool-build-attempt"),
      round: z.number().int(),
      name: z.string(),
      attempt: z.number().int(),
      /** check-failed: deno check; tests-failed: its tests in the sandbox; passed. */
      result: z.enum(["invalid", "check-failed", "tests-failed", "passed"]),
      diagnostics: z.string().optional(),
      testsPassed: z.number().int().optional(),
      testsTotal: z.number().int().optional(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("tool-build-end"),
      round: z.number().int(),
      name: z.string(),
      ok: z.boolean(),
      version: z.string().optional(),
      reason: z.string().optional(),
      /** Set when the version went to the operator's review (see `tool-review-pending`). */
      review: z.enum(["pending", "approved", "rejected"]).optional(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      /**
       * The built tool is not admitted yet: the operator's approval policy sends some of its
       * permissions to review (outcome TOOL_PENDING_REVIEW). `waiting`: the task waits for the
       * decision; else it goes on without the tool. Ended by a `tool-build-end` with `review`.
       */
      kind: z.literal("tool-review-pending"),
      round: z.number().int(),
      name: z.string(),
      version: z.string(),
      /** The permissions under review, e.g. `secret:API_KEY`. */
      permissions: z.array(z.string()),
      waiting: z.boolean(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("tool-call-start"),
      round: z.number().int(),
      tool: z.string(),
      callId: z.string(),
      input: z.string(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("tool-call-end"),
      round: z.number().int(),
      tool: z.string(),
      callId: z.string(),
      outcome: ToolCallOutcome,
      durationMs: z.number(),
      output: z.string(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("tool-repair-end"),
      round: z.number().int(),
      tool: z.string(),
      ok: z.boolean(),
      version: z.string().optional(),
      reason: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("executor-report"),
      round: z.number().int(),
      conclusion: z.string(),
      steps: z.number().int(),
      capabilityRequest: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("judge-end"),
      round: z.number().int(),
      verdict: z.enum(["FINISH", "RETRY"]),
      reason: z.string(),
    })
    .strict(),
  z
    .object({
      ...eventBase,
      kind: z.literal("task-end"),
      status: TaskStatusSchema,
      answer: TaskAnswerSchema.optional(),
      error: TaskErrorSchema.optional(),
      toolsUsed: z.array(z.string()),
      toolsCreated: z.array(z.string()),
      usage: TaskUsageSchema,
    })
    .strict(),
]);
export type TaskEvent = z.infer<typeof TaskEventSchema>;
export type TaskEventKind = TaskEvent["kind"];

/** Every task's progress; publish with `token: taskId`, subscribe with `token` to follow one task. */
export const TaskEvents = defineEvent({
  subject: "task.events.*",
  /** Kept in JetStream (7 days) so a late subscriber — the gateway's SSE, `insitu ask` — replays a task from its start. */
  stream: "task-events",
  type: "task.event",
  version: 1,
  description:
    "Progress of one task (noun-action kinds: task-start, plan-end, tool-build-*, tool-call-*, …, task-end).",
  schema: TaskEventSchema,
});
