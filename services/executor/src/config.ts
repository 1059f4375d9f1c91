import { z } from "zod";

/** Executor settings (on top of the runtime's NATS_URL, NATS_PREFIX, HTTP_PORT …). */
export const ExecutorConfigSchema = z.object({
  /** The model's context window in tokens; the history is summarised above 80 % of it. */
  EXECUTOR_CONTEXT_TOKENS: z.coerce.number().int().min(1000).default(128_000),
  /** Tool output above this many characters is reduced before it enters the context. */
  EXECUTOR_MAX_TOOL_OUTPUT_CHARS: z.coerce.number().int().min(200).default(12_000),
  /** Repairs per tool per round (the original: up to 3 rounds). */
  EXECUTOR_MAX_REPAIRS: z.coerce.number().int().min(0).max(5).default(2),
  /**
   * Rounds executed at once by this process. A round mostly waits on the model and the sandbox
   * (which bounds its own CPU work), so one replica carries a whole default batch of 16 (ADR 0113).
   */
  EXECUTOR_CONCURRENCY: z.coerce.number().int().min(1).default(16),
  WORK_ACK_WAIT_MS: z.coerce.number().int().min(500).default(30_000),
  WORK_MAX_DELIVER: z.coerce.number().int().min(2).default(5),
  /** Deadline of one sandbox call as seen from here (the sandbox enforces the tool's own limit). */
  SANDBOX_TIMEOUT_MS: z.coerce.number().int().min(1000).default(150_000),
  /**
   * A sandbox request that fails because the sandbox is down or died mid-request (no-responders,
   * or its liveness beats stopped — ADR 0093) is tried again with backoff until this long after the
   * first attempt, so a sandbox restarted within it costs the step nothing (ADR 0094). 0: no retry.
   */
  SANDBOX_RETRY_WINDOW_MS: z.coerce.number().int().min(0).default(45_000),
  /** Deadline of one repair request to the tool developer. */
  REPAIR_TIMEOUT_MS: z.coerce.number().int().min(1000).default(600_000),
  /** Path of a scenario file: the role's model is then the FAKE scripted model (tests, `insitu demo`). */
  INSITU_SCRIPT: z.string().optional(),
  /**
   * Path of the operator's MCP servers file (`{"servers": {"name": {"command"|"url", "secrets": […]}}}`,
   * libs/mcp/src/external-config.ts): their tools become external tools tasks can use.
   */
  INSITU_MCP_CONFIG: z.string().optional(),
});
export type ExecutorConfig = z.infer<typeof ExecutorConfigSchema>;
