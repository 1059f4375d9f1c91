import {
  LibraryCatalog,
  busLibraryPort,
  busTaskPort,
  callPolicyFromEnv,
  createMcpHttpEndpoint,
} from "@insitu/mcp";
import type { ServiceSpec } from "@insitu/runtime";
import type { Consumer } from "@insitu/bus";
import { BatchRuns } from "@insitu/batch";
import { TaskGet, type TaskRecord } from "@insitu/contracts";
import { isInsituError } from "@insitu/errors";
import type { GatewayBatches } from "./backend.js";
import { bearerMatches, createGatewayApi } from "./api.js";
import { createBusBackend } from "./bus-backend.js";
import { GatewayConfigSchema } from "./config.js";
import { loadDashboard } from "./dashboard/index.js";
import { readJsonBody } from "./http/body.js";
import { createGatewayMetrics } from "./metrics.js";

/** The gateway as a runtime service: the public HTTP API on the runtime's HTTP port, backed by the bus. */
export const gatewayService: ServiceSpec<typeof GatewayConfigSchema> = {
  name: "gateway",
  version: "0.1.0",
  config: GatewayConfigSchema,
  async start({ config, bus, logger, metrics }) {
    const gatewayMetrics = createGatewayMetrics(metrics);
    const dashboard = loadDashboard();
    // Batch runs: stored in KV `batches`, run from the durable `batch-work` queue by whichever
    // gateway replica takes the item; a killed replica's run resumes elsewhere (docs/adr/0110).
    const runs = await BatchRuns.open(bus);
    const getTask = async (taskId: string): Promise<TaskRecord | undefined> => {
      try {
        return await bus.request(
          TaskGet,
          { taskId },
          { timeoutMs: config.GATEWAY_REQUEST_TIMEOUT_MS, taskId },
        );
      } catch (error) {
        if (isInsituError(error, "NOT_FOUND")) return undefined;
        throw error;
      }
    };
    const batches: GatewayBatches = {
      submit: (input) => runs.submit(input.text, input.runId, input.items.length, input.settings),
      get: (runId) => runs.view(runId),
      list: (limit) => runs.list(limit),
      predictions: (runId) => runs.predictions(runId, getTask),
      watch: (runId, onChange) => runs.watch(runId, onChange),
    };
    let batchConsumer: Consumer | undefined;
    if (config.GATEWAY_BATCH_CONCURRENCY > 0) {
      batchConsumer = await runs.consume({
        concurrency: config.GATEWAY_BATCH_CONCURRENCY,
        ackWaitMs: config.GATEWAY_BATCH_ACK_WAIT_MS,
        maxDeliver: config.GATEWAY_BATCH_MAX_DELIVER,
        ports: { barrierTimeoutMs: config.GATEWAY_BATCH_BARRIER_TIMEOUT_MS },
        onError: (runId, error) => logger.warn("batch run attempt failed; it is retried", { runId, error }),
      });
    }
    const api = createGatewayApi({
      batches,
      batchBodyLimitBytes: config.GATEWAY_BATCH_BODY_LIMIT_BYTES,
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
    // The library as an MCP server on /mcp (stateful Streamable HTTP, docs/adr/0085).
    const catalog = new LibraryCatalog(
      busLibraryPort(bus, {
        sandboxTimeoutMs: config.GATEWAY_MCP_CALL_TIMEOUT_MS,
        signer: config.GATEWAY_SIGNING_KEY,
      }),
      (error) => logger.warn("MCP library refresh failed", { error }),
    );
    const mcp = createMcpHttpEndpoint({
      catalog,
      policy: callPolicyFromEnv(config),
      limits: {
        callsPerMinute: config.GATEWAY_MCP_CALLS_PER_MINUTE,
        maxConcurrent: config.GATEWAY_MCP_MAX_CONCURRENT,
      },
      maxSessions: config.GATEWAY_MCP_MAX_SESSIONS,
      idleMs: config.GATEWAY_MCP_IDLE_MS,
      authorize: (request) =>
        config.GATEWAY_API_TOKEN === undefined ||
        bearerMatches(request.headers.authorization, config.GATEWAY_API_TOKEN),
      readBody: (request) => readJsonBody(request, config.GATEWAY_BODY_LIMIT_BYTES),
      ...(config.INSITU_MCP_ASK === "on"
        ? { tasks: busTaskPort(bus, { waitMs: config.GATEWAY_MCP_ASK_WAIT_MS }) }
        : {}),
      onError: (error, context) => logger.warn(`MCP: ${context}`, { error }),
    });
    catalog.start().catch((error: unknown) => logger.warn("MCP library not loaded yet", { error }));
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
        if (mcp.handle(request, response)) return true;
        if (dashboard.handle(request, response)) return true;
        api.handle(request, response);
        return true;
      },
      async stop() {
        // A run in progress is handed back to the queue at once (another replica resumes it).
        await batchConsumer?.stop();
        // Open event streams never end on their own; clients resume with Last-Event-ID.
        api.close();
        catalog.stop();
        await mcp.close();
      },
    };
  },
};
