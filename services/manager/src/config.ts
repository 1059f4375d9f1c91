import { z } from "zod";

/**
 * Manager settings (on top of the runtime's NATS_URL, NATS_PREFIX, HTTP_PORT …), parsed once.
 * Budgets here are the defaults a submitted task may lower or raise.
 */
export const ManagerConfigSchema = z.object({
  /** Default round budget (the original: 5). */
  TASK_ROUNDS: z.coerce.number().int().min(1).max(20).default(5),
  /** Default token budget per task (all roles). */
  TASK_TOKENS: z.coerce.number().int().min(1).default(2_000_000),
  /** Default cost budget per task in USD. */
  TASK_COST_USD: z.coerce.number().min(0).default(5),
  /** Default wall-time budget per task. */
  TASK_WALL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(30 * 60_000),
  /** Executor tool steps per round (the original: 10). */
  EXECUTOR_STEPS: z.coerce.number().int().min(1).max(100).default(10),
  /** Candidate tools retrieved per plan (top-k). */
  RETRIEVAL_TOP_K: z.coerce.number().int().min(1).max(50).default(8),
  /** Token budget of the library catalog in the plan prompt (one line per tool: the task's neighbourhood, then the most used); 0 = no catalog. */
  PLAN_CATALOG_TOKENS: z.coerce.number().int().min(0).max(200_000).default(4000),
  /** Work-queue ack deadline; the bus heartbeats while a handler works. */
  WORK_ACK_WAIT_MS: z.coerce.number().int().min(500).default(30_000),
  /** Deliveries of one work message; on the last one a failing step fails the task. */
  WORK_MAX_DELIVER: z.coerce.number().int().min(2).default(8),
  /** Manager work messages handled at once (mostly waiting on the model: 16, a default batch — ADR 0113). */
  WORK_CONCURRENCY: z.coerce.number().int().min(1).default(16),
  /** How often unfinished tasks are checked against their wall-time budget. */
  TASK_SWEEP_MS: z.coerce.number().int().min(100).default(15_000),
  /** Path of a scenario file: the role's model is then the FAKE scripted model (tests, `insitu demo`). */
  INSITU_SCRIPT: z.string().optional(),
});
export type ManagerConfig = z.infer<typeof ManagerConfigSchema>;
