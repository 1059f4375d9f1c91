import { connectBus } from "@insitu/bus";
import { createLogger } from "@insitu/telemetry";
import { createGatewayHandler } from "./api.js";
import { createBusBackend } from "./bus-backend.js";
import { loadGatewayConfig } from "./config.js";
import { createGatewayMetrics } from "./metrics.js";
import { listen } from "./server.js";

// Wiring only: the HTTP API (plus /healthz /readyz /metrics) on one port, backed by the bus.
const logger = createLogger({ service: "gateway" });
const config = loadGatewayConfig();
const metrics = createGatewayMetrics();
const bus = await connectBus({
  url: config.NATS_URL,
  name: "gateway",
  prefix: config.NATS_PREFIX,
  logger,
  metrics: metrics.registry,
  requestTimeoutMs: config.GATEWAY_REQUEST_TIMEOUT_MS,
});
const handler = createGatewayHandler({
  backend: createBusBackend(bus, { requestTimeoutMs: config.GATEWAY_REQUEST_TIMEOUT_MS }),
  logger,
  bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
  heartbeatMs: config.GATEWAY_SSE_HEARTBEAT_MS,
  terminalGraceMs: 2_000,
  metricsText: async () => ({
    contentType: metrics.registry.contentType,
    body: await metrics.registry.metrics(),
  }),
  observe: metrics.observe,
});
const server = await listen(handler, config.HTTP_HOST, config.HTTP_PORT);
logger.info("gateway listening", {
  url: `http://${config.HTTP_HOST}:${server.port}`,
  prefix: config.NATS_PREFIX,
});

let stopping = false;
const shutdown = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  logger.info("draining", { signal });
  await server.close(config.GATEWAY_DRAIN_MS);
  await bus.drain().catch((error: unknown) => logger.warn("bus drain failed", { error }));
  logger.info("stopped");
  process.exit(0);
};
process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));
