import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@insitu/telemetry";
import type { GatewayBackend, GatewayBatches } from "./backend.js";
import { batchRoutes } from "./batches/batch-routes.js";
import type { SseStream } from "./http/sse.js";
import { createDispatch } from "./routes/dispatch.js";
import { libraryRoutes } from "./routes/library-routes.js";
import { metricsRoutes } from "./routes/metrics-routes.js";
import type { RouteDeps } from "./routes/route-kit.js";
import { taskRoutes } from "./routes/task-routes.js";

// Moved beside the code that uses them; re-exported so imports of this file keep working.
export { sendJson } from "./http/respond.js";
export { bearerMatches } from "./routes/dispatch.js";
export { API_ROUTES } from "./routes/route-kit.js";
export { taskEndFromRecord } from "./routes/task-routes.js";

export interface GatewayHandlerOptions {
  backend: GatewayBackend;
  logger: Logger;
  /** Max request body (413 above it). */
  bodyLimitBytes: number;
  /** Max body of `POST /v1/tasks`, which may carry attachments; default `bodyLimitBytes`. */
  taskBodyLimitBytes?: number;
  /** Batch runs (`/v1/batches`); without it those routes answer 503. */
  batches?: GatewayBatches;
  /** Max body of `POST /v1/batches` (a questions file); default `bodyLimitBytes`. */
  batchBodyLimitBytes?: number;
  /** SSE keep-alive comment interval. */
  heartbeatMs: number;
  /**
   * A terminal task whose `task-end` has not arrived through the event stream after this long gets
   * one synthesized from its record, so a late client always sees how the task ended.
   */
  terminalGraceMs: number;
  /** Event streams open at once (each holds a JetStream consumer); more are refused with 503. */
  maxStreams?: number;
  /** Bearer token required on every route when set. */
  apiToken?: string;
  /** Observes each finished request (route label, status, seconds). */
  observe?: (route: string, method: string, status: number, seconds: number) => void;
}

/** The gateway's HTTP API; /healthz, /readyz and /metrics come from the service runtime. */
export interface GatewayApi {
  /** Handles one request (answers 404 itself for unknown routes). */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** Ends every open event stream (on SIGTERM; clients reconnect with Last-Event-ID). */
  close(): void;
  /** Event streams open now. */
  readonly openStreams: number;
}

/** The route groups (each in its own file) over one set of open event streams. */
export function createGatewayApi(options: GatewayHandlerOptions): GatewayApi {
  const streams = new Set<SseStream>();
  const deps: RouteDeps = { options, streams };
  const routes = [...batchRoutes(deps), ...taskRoutes(deps), ...libraryRoutes(deps), ...metricsRoutes(deps)];
  return {
    handle: createDispatch(routes, options),
    close() {
      for (const stream of streams) stream.close();
      streams.clear();
    },
    get openStreams() {
      return streams.size;
    },
  };
}
