// Task records and state: status, budgets, options, tool requests and refs, usage, answer, error,
// rounds and the durable record (KV bucket `tasks`).
// Part of the task domain's contracts (see ../task.ts).
import { z } from "zod";
import { TaskId, ToolName } from "../envelope.js";
import { AttachmentRefSchema, MAX_ATTACHMENTS_PER_TASK } from "../files.js";

/** Where a task is. Terminal: succeeded, failed, budget-exceeded. */
export const TaskStatus = {
  queued: "queued",
  planning: "planning",
  building: "building",
  executing: "executing",
  judging: "judging",
  integrating: "integrating",
  succeeded: "succeeded",
  failed: "failed",
  budgetExceeded: "budget-exceeded",
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];
export const TaskStatusSchema = z.enum([
  "queued",
  "planning",
  "building",
  "executing",
  "judging",
  "integrating",
  "succeeded",
  "failed",
  "budget-exceeded",
]);
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ["succeeded", "failed", "budget-exceeded"];
export function isTerminalTaskStatus(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.includes(status);
}

/** Per-task limits; any omitted field takes the manager's configured default. */
export const TaskBudgetsSchema = z
  .object({
    /** Manager rounds (plan → build → execute → judge). The original defaulted to 5. */
    rounds: z.number().int().min(1).max(20).optional(),
    /** Input + output tokens over every role's model calls. */
    tokens: z.number().int().min(1).max(100_000_000).optional(),
    /** Model cost in US dollars over every role. */
    costUsd: z.number().min(0).max(10_000).optional(),
    /** Wall time from submission to the answer, in milliseconds. */
    wallMs: z
      .number()
      .int()
      .min(1000)
      .max(24 * 3_600_000)
      .optional(),
  })
  .strict();
export type TaskBudgets = z.infer<typeof TaskBudgetsSchema>;

/** Budgets after defaults were applied (stored on the record). */
export const ResolvedTaskBudgetsSchema = z
  .object({
    rounds: z.number().int().min(1),
    tokens: z.number().int().min(1),
    costUsd: z.number().min(0),
    wallMs: z.number().int().min(1),
    /** Executor tool steps per round. */
    executorSteps: z.number().int().min(1),
  })
  .strict();
export type ResolvedTaskBudgets = z.infer<typeof ResolvedTaskBudgetsSchema>;

export const TaskOptionsSchema = z
  .object({
    budgets: TaskBudgetsSchema.optional(),
    /**
     * When this task's new tools join the library: `now` (default) as the task ends, or
     * `at-barrier` (batch runs, as in the original): they are offered and the evolver admits them
     * at the batch's barrier, so the batch's other tasks see only the library of the batch start.
     */
    admit: z.enum(["now", "at-barrier"]).optional(),
    /**
     * What the task does when a tool it asked for waits for an operator's review (docs/adr/0130):
     * `continue` without it (re-plans as for a failed build), or `wait` for the decision (up to
     * the policy's `reviewWaitMs` and the task's own deadline). Default: the policy's `onReview`.
     */
    onReview: z.enum(["continue", "wait"]).optional(),
  })
  .strict();
export type TaskOptions = z.infer<typeof TaskOptionsSchema>;

/** What the Manager asks the Tool Developer to build (the original's ToolRequest). */
export const ToolRequestSchema = z
  .object({
    /** `verb_target`, snake_case, topic-agnostic. */
    name: ToolName,
    /** What the tool does, for the model that will call it. */
    description: z.string().min(1).max(4000),
    /** JSON Schema of the input object (at most 5 properties). */
    input_schema: z.record(z.string(), z.unknown()),
    /** JSON Schema of the output object. */
    output_schema: z.record(z.string(), z.unknown()),
  })
  .strict();
export type ToolRequest = z.infer<typeof ToolRequestSchema>;

/** A tool version bound to a step: the name the model sees and the registry's version id. */
export const ToolRefSchema = z
  .object({
    name: ToolName,
    /** Registry version id (content hash). */
    version: z.string().min(1).max(200),
  })
  .strict();
export type ToolRef = z.infer<typeof ToolRefSchema>;

export const TaskUsageSchema = z
  .object({
    inputTokens: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    costUsd: z.number().min(0),
    toolCalls: z.number().int().min(0),
  })
  .strict();
export type TaskUsage = z.infer<typeof TaskUsageSchema>;

export const TaskAnswerSchema = z
  .object({
    final_answer: z.string().max(100_000),
    reasoning_summary: z.string().max(100_000),
    /** How sure the integrator is that `final_answer` is right, 0–100 (for calibration in `insitu eval`). */
    confidence: z.number().min(0).max(100).optional(),
  })
  .strict();
export type TaskAnswer = z.infer<typeof TaskAnswerSchema>;

export const TaskErrorSchema = z
  .object({
    code: z.string().max(100),
    message: z.string().max(10_000),
  })
  .strict();
export type TaskError = z.infer<typeof TaskErrorSchema>;

/** One manager round as the record keeps it (for the API, the CLI and the next round's prompt). */
export const TaskRoundSchema = z
  .object({
    round: z.number().int().min(1),
    toolsChosen: z.array(ToolName).max(100),
    toolsRequested: z.array(ToolName).max(100),
    /** Tools whose build failed in this round, with the reason. */
    buildFailures: z.array(z.object({ name: ToolName, reason: z.string().max(4000) }).strict()).max(100),
    verdict: z.enum(["FINISH", "RETRY"]).optional(),
    reason: z.string().max(4000).optional(),
  })
  .strict();
export type TaskRound = z.infer<typeof TaskRoundSchema>;

/** The durable task record (KV bucket `tasks`, key = task id), as `task.get` returns it. */
export const TaskRecordSchema = z
  .object({
    taskId: TaskId,
    question: z.string(),
    status: TaskStatusSchema,
    /** Current manager round, 0 before the first plan. */
    round: z.number().int().min(0),
    budgets: ResolvedTaskBudgetsSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
    answer: TaskAnswerSchema.optional(),
    /** Tools the executor called (names), over all rounds. */
    toolsUsed: z.array(ToolName),
    /** Tools built for this task (names), over all rounds. */
    toolsCreated: z.array(ToolName),
    /** Tools offered to the library at the end (succeeded at least once). */
    toolsKept: z.array(ToolName).optional(),
    usage: TaskUsageSchema,
    rounds: z.array(TaskRoundSchema),
    error: TaskErrorSchema.optional(),
    /** Files that came with the question (in the task's workspace). */
    attachments: z.array(AttachmentRefSchema).max(MAX_ATTACHMENTS_PER_TASK).optional(),
  })
  .strict();
export type TaskRecord = z.infer<typeof TaskRecordSchema>;
