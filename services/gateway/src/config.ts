import { SigningKeyEnv, signingKeyConfig } from "@insitu/contracts";
import { z } from "zod";

/**
 * Gateway settings, on top of the runtime's (NATS_URL, NATS_PREFIX, HTTP_HOST, HTTP_PORT, …);
 * the public API is served on HTTP_PORT beside /healthz, /readyz and /metrics.
 */
export const GatewayConfigSchema = z.object({
  /**
   * The gateway's Ed25519 private key: signs the usage outcomes of MCP clients' calls, which the
   * registry records only from trusted keys (ADR 0125). Required.
   */
  [SigningKeyEnv.gateway]: signingKeyConfig(SigningKeyEnv.gateway, "the gateway"),
  /** Largest accepted request body; above it the answer is 413. */
  GATEWAY_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(256 * 1024),
  /**
   * Largest body of `POST /v1/tasks`, which may carry attachments (base64 in JSON adds a third):
   * default room for the per-task attachment cap (25 MiB) encoded, plus the question.
   */
  GATEWAY_TASK_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(512 * 1024 * 1024)
    .default(36 * 1024 * 1024),
  /** Largest body of `POST /v1/batches` (a questions file; the CLI's limit by default). */
  GATEWAY_BATCH_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(512 * 1024 * 1024)
    .default(50 * 1024 * 1024),
  /** Batch runs this gateway process runs at once (0: serve /v1/batches but run none here). */
  GATEWAY_BATCH_CONCURRENCY: z.coerce.number().int().min(0).max(100).default(4),
  /**
   * Ack deadline of a batch run's queue item without an in-progress beat (beats go every third of
   * it): how long a killed gateway's run waits before another replica (or the restarted one) resumes it.
   */
  GATEWAY_BATCH_ACK_WAIT_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /** Deliveries of a batch run before it is given up (each kill of a gateway costs one). */
  GATEWAY_BATCH_MAX_DELIVER: z.coerce.number().int().min(1).max(1000).default(20),
  /** How long one barrier (the evolver's absorb) may take before the run's attempt fails. */
  GATEWAY_BATCH_BARRIER_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(30 * 60_000),
  /** Keep-alive comment interval on event streams. */
  GATEWAY_SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  /** Event streams open at once per gateway process (each holds a JetStream consumer). */
  GATEWAY_MAX_STREAMS: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Timeout of each bus request made on behalf of an HTTP request. */
  GATEWAY_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /**
   * When set, every /v1 request must carry `Authorization: Bearer <token>` (401 otherwise). Leave
   * it unset only while the gateway listens on loopback.
   */
  GATEWAY_API_TOKEN: z.string().min(16, "use a token of at least 16 characters").optional(),
  /** How long a finished task's stream waits for its `task-end` event before rebuilding it from the record. */
  GATEWAY_TERMINAL_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
  /** MCP endpoint (`/mcp`, docs/adr/0085): sessions open at once; beyond it a new session gets 503. */
  GATEWAY_MCP_MAX_SESSIONS: z.coerce.number().int().min(1).max(100_000).default(100),
  /** MCP `tools/call` per session per minute. */
  GATEWAY_MCP_CALLS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(120),
  /** MCP `tools/call` running at once per session. */
  GATEWAY_MCP_MAX_CONCURRENT: z.coerce.number().int().min(1).max(1000).default(4),
  /** An MCP session with no request for this long is closed. */
  GATEWAY_MCP_IDLE_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(30 * 60_000),
  /** Deadline of one sandbox call made for an MCP client. */
  GATEWAY_MCP_CALL_TIMEOUT_MS: z.coerce.number().int().min(1000).default(150_000),
  /** Whether MCP clients get the `ask_insitu` tool (a whole task, progress as notifications). */
  INSITU_MCP_ASK: z.enum(["on", "off"]).default("on"),
  /** How long `ask_insitu` waits for its task before answering with the task's current state. */
  GATEWAY_MCP_ASK_WAIT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(10 * 60_000),
  /** Secrets a tool called over MCP may declare (comma list or `*`; default none: such tools are listed but refused). */
  INSITU_MCP_ALLOW_SECRETS: z.string().optional(),
  /** Hosts a tool called over MCP may declare (comma list or `*` = any public host, the default). */
  INSITU_MCP_ALLOW_HOSTS: z.string().optional(),
});
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;
