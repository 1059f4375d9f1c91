import { parseConfig } from "@insitu/config";
import { z } from "zod";

/** Gateway configuration, parsed once from the environment at start-up. */
export const GatewayConfigSchema = z.object({
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  NATS_PREFIX: z.string().min(1).default("insitu"),
  /** Interface the public API binds to; 0.0.0.0 in a container. */
  HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  HTTP_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** Largest accepted request body; above it the answer is 413. */
  GATEWAY_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(256 * 1024),
  GATEWAY_SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  /** Timeout of each bus request made on behalf of an HTTP request. */
  GATEWAY_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** SIGTERM → exit grace: open SSE streams are closed, in-flight requests finish. */
  GATEWAY_DRAIN_MS: z.coerce.number().int().min(0).max(120_000).default(5_000),
});
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return parseConfig(GatewayConfigSchema, env);
}
