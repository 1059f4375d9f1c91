// Repair (request/reply, service "tool-developer"): repair a task-private tool from its failing calls.
// Part of the task domain's contracts (see ../task.ts).
import { z } from "zod";
import { defineEndpoint } from "../define.js";
import { TaskId } from "../envelope.js";
import { TaskUsageSchema, ToolRefSchema } from "./records.js";
import { ToolCallOutcome } from "./step-results.js";

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
