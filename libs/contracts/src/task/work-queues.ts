// Work queues: the manager's input and the work it sends to the tool developer, executor and
// integrator. Part of the task domain's contracts (see ../task.ts).
import { z } from "zod";
import { defineWorkQueue } from "../define.js";
import { TaskId } from "../envelope.js";
import { AttachmentRefSchema, MAX_ATTACHMENTS_PER_TASK } from "../files.js";
import { ToolRefSchema, ToolRequestSchema } from "./records.js";

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
