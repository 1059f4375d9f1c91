import type { ServiceSpec } from "@insitu/runtime";
import { createGatewayApi } from "./api.js";
import { createBusBackend } from "./bus-backend.js";
import { GatewayConfigSchema } from "./config.js";
import { loadDashboard } from "./dashboard/index.js";
import { createGatewayMetrics } from "./metrics.js";

/** The gateway as a runtime service: the public HTTP API on the runtime's HTTP port, backed by the bus. */
export const gatewayService: ServiceSpec<typeof GatewayConfigSchema> = {
  name: "gateway",
  version: "0.1.0",
  config: GatewayConfigSchema,
  async start({ config, bus, logger, metrics }) {
    const gatewayMetrics = createGatewayMetrics(metrics);
    const dashboard = loadDashboard();
    const api = createGatewayApi({
      backend: createBusBackend(bus, { requestTimeoutMs: config.GATEWAY_REQUEST_TIMEOUT_MS }),
      logger,
      bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
      taskBodyLimitBytes: config.GATEWAY_TASK_BODY_LIMIT_BYTES,
      heartbeatMs: config.GATEWAY_SSE_HEARTBEAT_MS,
      terminalGraceMs: config.GATEWAY_TERMINAL_GRACE_MS,
      maxStreams: config.GATEWAY_MAX_STREAMS,
      ...(config.GATEWAY_API_TOKEN ? { apiToken: config.GATEWAY_API_TOKEN } : {}),
      observe: gatewayMetrics.observe,
    });
    logger.info("gateway API ready", {
      port: config.HTTP_PORT,
      prefix: config.NATS_PREFIX,
      auth: config.GATEWAY_API_TOKEN ? "bearer token" : "none",
    });
    if (!config.GATEWAY_API_TOKEN && !["127.0.0.1", "::1", "localhost"].includes(config.HTTP_HOST)) {
      logger.warn(
        "the gateway listens beyond loopback without GATEWAY_API_TOKEN: anyone who reaches it can submit tasks",
        {
          host: config.HTTP_HOST,
        },
      );
    }
    return {
      http(request, response) {
        if (dashboard.handle(request, response)) return true;
        api.handle(request, response);
        return true;
      },
      async stop() {
        // Open event streams never end on their own; clients resume with Last-Event-ID.
        api.close();
      },
    };
  },
};
