// Step results (KV bucket `task-steps`): what a build, an execution and an integration store
// before they tell the manager. Part of the task domain's contracts (see ../task.ts).
import { z } from "zod";
import { ToolName } from "../envelope.js";
import { TaskAnswerSchema, TaskUsageSchema, ToolRefSchema } from "./records.js";

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
