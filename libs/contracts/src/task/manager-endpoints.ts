// Endpoints of service "manager": submit, get and list tasks.
// Part of the task domain's contracts (see ../task.ts).
import { z } from "zod";
import { defineEndpoint } from "../define.js";
import { TaskId } from "../envelope.js";
import { AttachmentRefSchema, MAX_ATTACHMENTS_PER_TASK } from "../files.js";
import { TaskOptionsSchema, TaskRecordSchema, TaskStatusSchema } from "./records.js";

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
