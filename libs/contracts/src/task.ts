import { z } from "zod";
import { defineEndpoint, defineEvent, defineWorkQueue } from "./define.js";
import { TaskId, ToolName } from "./envelope.js";
import { AttachmentRefSchema, MAX_ATTACHMENTS_PER_TASK } from "./files.js";

/**
 * The task domain: how a question travels through manager → tool-developer → executor →
 * integrator. Task state lives in the manager's KV bucket (`tasks`); every role stores its step
 * result before it tells the manager (`manager.work`), and acks its own work only after that, so a
 * role killed mid-step delays a task and never loses it.
 */

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

// ---------------------------------------------------------------- endpoints (service "manager")

export const TaskSubmit = defineEndpoint({
  service: "manager",
  name: "submit",
  subject: "task.submit",
  version: 1,
  description:
    "Submit a question. Idempotent when `taskId` is given (a second submit with the same id returns the existing task).",
  request: z
    .object({
      question: z.string().min(1).max(50_000),
      options: TaskOptionsSchema.optional(),
      taskId: TaskId.optional(),
      /** Files already stored in the task's workspace under `taskId` (the gateway stores them first). */
      attachments: z.array(AttachmentRefSchema).max(MAX_ATTACHMENTS_PER_TASK).optional(),
    })
    .strict(),
  response: z.object({ taskId: TaskId, status: TaskStatusSchema }).strict(),
});

export const TaskGet = defineEndpoint({
  service: "manager",
  name: "get",
  subject: "task.get",
  version: 1,
  description: "The task record: status, round, answer, tools used and created, usage.",
  request: z.object({ taskId: TaskId }).strict(),
  response: TaskRecordSchema,
});

export const TaskSummarySchema = z
  .object({
    taskId: TaskId,
    question: z.string(),
    status: TaskStatusSchema,
    round: z.number().int().min(0),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();
export type TaskSummary = z.infer<typeof TaskSummarySchema>;

export const TaskList = defineEndpoint({
  service: "manager",
  name: "list",
  subject: "task.list",
  version: 1,
  description: "Recent tasks, newest first.",
  request: z.object({ limit: z.number().int().min(1).max(500).optional() }).strict(),
  response: z.object({ tasks: z.array(TaskSummarySchema) }).strict(),
});

// ---------------------------------------------------------------- work queues

export const ManagerWorkKind = {
  start: "start",
  buildDone: "build-done",
  executionDone: "execution-done",
  integrationDone: "integration-done",
  planDone: "plan-done",
  judgeDone: "judge-done",
} as const;
export type ManagerWorkKind = (typeof ManagerWorkKind)[keyof typeof ManagerWorkKind];

/** Step ids name one stored step result, e.g. `r1.build.search_web`, `r2.execute`, `integrate`. */
export const StepId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.-]+$/);

/** Wakes the manager: a task was submitted, or a role stored a step result. */
export const ManagerWork = defineWorkQueue({
  stream: "manager-work",
  subject: "manager.work",
  version: 1,
  description: "Manager state-machine input: a new task or a finished step (its result is already stored).",
  schema: z
    .object({
      taskId: TaskId,
      kind: z.enum(["start", "build-done", "execution-done", "integration-done", "plan-done", "judge-done"]),
      step: StepId,
    })
    .strict(),
});

export const ToolBuildWork = defineWorkQueue({
  stream: "tool-developer-build",
  subject: "tool-developer.build",
  version: 1,
  description:
    "Build one requested tool: write module + tests, type-check, run tests, register into the task pool.",
  schema: z
    .object({
      taskId: TaskId,
      round: z.number().int().min(1),
      step: StepId,
      request: ToolRequestSchema,
      /** The question, so the developer can pick realistic test inputs. */
      question: z.string().max(50_000).optional(),
      /** Tokens the build may still spend (what is left of the task's budget). */
      maxTokens: z.number().int().min(1).optional(),
      /** ISO-8601 time the task's wall-time budget ends; model calls stop at it. */
      deadline: z.string().max(40).optional(),
      /** The task's choice when the built tool waits for review (default: the policy's). */
      onReview: z.enum(["continue", "wait"]).optional(),
    })
    .strict(),
});

export const ExecutorRunWork = defineWorkQueue({
  stream: "executor-run",
  subject: "executor.run",
  version: 1,
  description: "Run the ReAct loop for one round over the bound tools.",
  schema: z
    .object({
      taskId: TaskId,
      round: z.number().int().min(1),
      step: StepId,
      question: z.string().max(50_000),
      tools: z.array(ToolRefSchema).max(100),
      guidance: z.string().max(50_000),
      failureReport: z.string().max(50_000).optional(),
      /** Key findings carried from earlier rounds. */
      priorFindings: z.string().max(50_000).optional(),
      maxSteps: z.number().int().min(1).max(100),
      /** Tokens this round may still spend (what is left of the task's budget); the round stops when spent. */
      maxTokens: z.number().int().min(1).optional(),
      /** ISO-8601 time the task's wall-time budget ends; the round stops at it. */
      deadline: z.string().max(40).optional(),
      /** The question's attachments (images and PDFs go to the model as inline data). */
      attachments: z.array(AttachmentRefSchema).max(MAX_ATTACHMENTS_PER_TASK).optional(),
    })
    .strict(),
});

export const IntegratorRunWork = defineWorkQueue({
  stream: "integrator-run",
  subject: "integrator.run",
  version: 1,
  description: "Write the final answer from the execution record.",
  schema: z
    .object({
      taskId: TaskId,
      step: StepId,
      question: z.string().max(50_000),
      /** The executor's final report(s), newest last. */
      report: z.string().max(200_000),
      /** Tokens the answer may still spend (what is left of the task's budget). */
      maxTokens: z.number().int().min(1).optional(),
      /** ISO-8601 time the task's wall-time budget ends; the model call stops at it. */
      deadline: z.string().max(40).optional(),
    })
    .strict(),
});

// ---------------------------------------------------------------- step results (KV bucket `task-steps`)

export const ToolBuildResultSchema = z
  .object({
    ok: z.boolean(),
    name: ToolName,
    /** Registry version id of the registered tool (ok only). */
    version: z.string().optional(),
    attempts: z.number().int().min(0),
    /** Why the build failed, for the manager's re-plan. */
    reason: z.string().max(8000).optional(),
    usage: TaskUsageSchema,
    /**
     * Where the built version stands with the operator's review, when the approval policy asked
     * for one (docs/adr/0130): `pending` (not ok: the task went on without it, or waited in vain),
     * `approved` (ok), `rejected` (not ok). `version` is set in every case.
     */
    review: z.enum(["pending", "approved", "rejected"]).optional(),
  })
  .strict();
export type ToolBuildResult = z.infer<typeof ToolBuildResultSchema>;

/** The codes a build's `reason` starts with when the operator's review holds the tool back. */
export const ToolReviewOutcome = {
  /** Registered, waiting for an operator's decision; not served to the task. */
  pending: "TOOL_PENDING_REVIEW",
  /** Denied by the approval policy or by an operator; never served. */
  rejected: "TOOL_REJECTED",
} as const;

export const ToolCallOutcome = z.enum([
  "success",
  "input-error",
  "execution-failure",
  "timeout",
  "denied",
  "output-error",
  /**
   * The tool answered, in its declared error shape, that it cannot serve this input ("0 cannot be
   * written in Roman numerals"): a successful call for the tool, never repaired (ADR 0057).
   */
  "rejected-input",
]);
export type ToolCallOutcome = z.infer<typeof ToolCallOutcome>;

export const ExecutionResultSchema = z
  .object({
    /** Markdown report: reasoning & plan, key findings & evidence, final conclusion. */
    report: z.string().max(200_000),
    conclusion: z.string().max(50_000),
    /** Set when the executor asked for a missing capability (`request_capability`). */
    capabilityRequest: z
      .object({
        capability: z.string().max(4000),
        reason: z.string().max(4000),
        intendedUse: z.string().max(4000),
      })
      .strict()
      .optional(),
    stepBudgetExhausted: z.boolean(),
    steps: z.number().int().min(0),
    toolCalls: z
      .array(
        z
          .object({
            tool: ToolName,
            version: z.string(),
            outcome: ToolCallOutcome,
            durationMs: z.number().min(0),
          })
          .strict(),
      )
      .max(1000),
    /** Tools whose repaired version replaced the bound one (name → new version). */
    repaired: z.array(ToolRefSchema).max(100),
    /** Tools that succeeded at least once in this run. */
    succeeded: z.array(ToolName).max(100),
    usage: TaskUsageSchema,
  })
  .strict();
export type ExecutionResult = z.infer<typeof ExecutionResultSchema>;

export const IntegrationResultSchema = z
  .object({
    answer: TaskAnswerSchema,
    usage: TaskUsageSchema,
  })
  .strict();
export type IntegrationResult = z.infer<typeof IntegrationResultSchema>;

// ---------------------------------------------------------------- repair (request/reply)

export const ToolRepair = defineEndpoint({
  service: "tool-developer",
  name: "repair",
  subject: "tool-developer.repair",
  version: 1,
  description:
    "Repair a task-private tool from its failing calls; the new version is registered (parent recorded) only if it passes its tests and the replays of the failing inputs.",
  request: z
    .object({
      taskId: TaskId,
      round: z.number().int().min(1),
      tool: ToolRefSchema,
      failingCalls: z
        .array(
          z
            .object({
              input: z.unknown(),
              outcome: ToolCallOutcome,
              error: z.string().max(8000),
            })
            .strict(),
        )
        .min(1)
        .max(20),
      question: z.string().max(50_000).optional(),
      /** Tokens the repair may still spend (what is left of the task's budget); its model calls stop there. */
      maxTokens: z.number().int().min(1).optional(),
      /** ISO-8601 time the task's wall-time budget ends; the repair's model calls stop at it. */
      deadline: z.string().max(40).optional(),
    })
    .strict(),
  response: z
    .object({
      ok: z.boolean(),
      version: z.string().optional(),
      reason: z.string().max(8000).optional(),
      attempts: z.number().int().min(0),
      usage: TaskUsageSchema,
      /** True when the repair stopped because the task's token or wall-time budget ran out (ADR 0090). */
      budgetExceeded: z.boolean().optional(),
    })
    .strict(),
});

// ---------------------------------------------------------------- events (`task.events.<taskId>`)

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

// ---------------------------------------------------------------- storage names

/** KV bucket holding the manager's task state (key = task id). */
export const TASKS_BUCKET = "tasks";
/** KV bucket holding step results (key = {@link stepKey}); written by the role that did the step. */
export const TASK_STEPS_BUCKET = "task-steps";

/** KV key of one step result: `<taskId>.<step>`. */
export function stepKey(taskId: string, step: string): string {
  return `${taskId}.${step}`;
}

/** Message id of a work message, so JetStream drops a duplicate enqueue of the same step. */
export function workMessageId(queue: string, taskId: string, step: string): string {
  return `${queue}:${taskId}:${step}`;
}
