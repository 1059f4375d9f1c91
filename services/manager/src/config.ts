import { z } from "zod";

/** Manager settings, from the environment (parsed once at start). */
export const ManagerConfigSchema = z.object({
  /** NATS server URL. */
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** Subject prefix (tests isolate themselves with their own). */
  INSITU_PREFIX: z.string().default("insitu"),
  /** HTTP port for /healthz, /readyz, /metrics (0 = random). */
  MANAGER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(0),
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
  /** Work-queue ack deadline; heartbeats extend it during long model calls. */
  WORK_ACK_WAIT_MS: z.coerce.number().int().min(500).default(30_000),
  /** Deliveries of one work message before the task is failed and the message dead-lettered. */
  WORK_MAX_DELIVER: z.coerce.number().int().min(2).default(8),
  /** Manager work messages handled at once. */
  WORK_CONCURRENCY: z.coerce.number().int().min(1).default(8),
});
export type ManagerConfig = z.infer<typeof ManagerConfigSchema>;

export function loadManagerConfig(env: NodeJS.ProcessEnv = process.env): ManagerConfig {
  return ManagerConfigSchema.parse(env);
}
