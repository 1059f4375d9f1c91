import { z } from "zod";
import { defineWorkQueue } from "./define.js";
import { TaskId } from "./envelope.js";
import { StepId, TaskErrorSchema, TaskUsageSchema, ToolRefSchema, ToolRequestSchema } from "./task.js";

/**
 * The Manager's own durable steps (ADR 0150): planning a round and judging its report. Each runs
 * once per step id outside the task's compare-and-set loop; its result is stored in the
 * task-steps bucket (key `<taskId>.<step>`, step `r<n>.plan` / `r<n>.judge`) before a
 * `plan-done` / `judge-done` manager.work message wakes the state machine.
 */
export const ManagerStepWork = defineWorkQueue({
  stream: "manager-step",
  subject: "manager.step",
  version: 1,
  description:
    "Plan or judge one round of a task (the Manager's model calls); the inputs are read from the task's state, the result is stored before plan-done / judge-done.",
  schema: z
    .object({
      taskId: TaskId,
      kind: z.enum(["plan", "judge"]),
      step: StepId,
      round: z.number().int().min(1),
    })
    .strict(),
});

/** What one model step spent: the usage of every call it made (failed attempts' included). */
const StepUsageSchema = TaskUsageSchema;

const StepFailureSchema = z
  .object({ ok: z.literal(false), error: TaskErrorSchema, usage: StepUsageSchema })
  .strict();

/** A stored plan step (`r<n>.plan`): the plan after build avoidance and the tools it resolved. */
export const PlanStepResultSchema = z.discriminatedUnion("ok", [
  z
    .object({
      ok: z.literal(true),
      /** The library tools the plan chose, resolved to versions. */
      chosen: z.array(ToolRefSchema).max(200),
      guidance: z.string().max(200_000),
      requests: z.array(ToolRequestSchema).max(50),
      /** How many candidates the plan prompt showed. */
      candidates: z.number().int().min(0),
      usage: StepUsageSchema,
    })
    .strict(),
  StepFailureSchema,
]);
export type PlanStepResult = z.infer<typeof PlanStepResultSchema>;

/** A stored judge step (`r<n>.judge`): the verdict on the round's report. */
export const JudgeStepResultSchema = z.discriminatedUnion("ok", [
  z
    .object({
      ok: z.literal(true),
      verdict: z
        .object({ status: z.enum(["FINISH", "RETRY"]), reason: z.string().min(1).max(4000) })
        .strict(),
      usage: StepUsageSchema,
    })
    .strict(),
  StepFailureSchema,
]);
export type JudgeStepResult = z.infer<typeof JudgeStepResultSchema>;
