import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayHandlerOptions } from "../api.js";
import type { Route } from "../http/router.js";
import type { SseStream } from "../http/sse.js";

/** Every route the API answers (listed in a 404's details). */
export const API_ROUTES = [
  "POST /v1/tasks",
  "GET /v1/tasks",
  "GET /v1/tasks/:id",
  "GET /v1/tasks/:id/events",
  "GET /v1/tools",
  "GET /v1/tools/:name/history",
  "GET /v1/reviews",
  "GET /v1/versions/:hash",
  "POST /v1/reviews/:hash/decision",
  "GET /v1/metrics/summary",
  "GET /v1/metrics/series",
  "GET /v1/evals",
  "POST /v1/batches",
  "GET /v1/batches",
  "GET /v1/batches/:id",
  "GET /v1/batches/:id/predictions",
  "GET /v1/batches/:id/events",
] as const;

/** What a route handler gets for one request. */
export interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  params: Record<string, string>;
  url: URL;
  requestId: string;
}

export type Handler = (context: RequestContext) => Promise<void>;

export type GatewayRoute = Route<Handler>;

/**
 * What every route group shares: the gateway's options and the event streams open now (counted
 * against `maxStreams`, all closed by `GatewayApi.close`).
 */
export interface RouteDeps {
  options: GatewayHandlerOptions;
  streams: Set<SseStream>;
}
