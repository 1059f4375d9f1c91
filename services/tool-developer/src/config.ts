import { z } from "zod";

/** Tool developer settings (on top of the runtime's NATS_URL, NATS_PREFIX, HTTP_PORT …). */
export const ToolDeveloperConfigSchema = z.object({
  /** Write → check → test attempts per tool (the original: 3). */
  BUILD_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /**
   * Builds handled at once by this process. A build mostly waits on the model; its checks and test
   * runs queue in the sandbox's own admission, so 8 lets a batch's builds overlap (ADR 0113).
   */
  BUILD_CONCURRENCY: z.coerce.number().int().min(1).default(8),
  /** Work-queue ack deadline; the bus heartbeats while a build runs. */
  WORK_ACK_WAIT_MS: z.coerce.number().int().min(500).default(30_000),
  WORK_MAX_DELIVER: z.coerce.number().int().min(2).default(5),
  /** Deadline of one sandbox request (check, test run, replay). */
  SANDBOX_TIMEOUT_MS: z.coerce.number().int().min(1000).default(180_000),
  /**
   * A sandbox request that fails because the sandbox is down or died mid-request (no-responders,
   * or its liveness beats stopped — ADR 0093) is tried again with backoff until this long after the
   * first attempt, so a sandbox restarted within it costs the step nothing (ADR 0094). 0: no retry.
   */
  SANDBOX_RETRY_WINDOW_MS: z.coerce.number().int().min(0).default(45_000),
  /** Import specifiers tools may use (comma-separated), shown to the model; default: the sandbox's import map. The sandbox enforces its own list. */
  TOOL_LIBRARIES: z.string().default(""),
  /** Path of a scenario file: the role's model is then the FAKE scripted model (tests, `insitu demo`). */
  INSITU_SCRIPT: z.string().optional(),
});
export type ToolDeveloperConfig = z.infer<typeof ToolDeveloperConfigSchema>;
