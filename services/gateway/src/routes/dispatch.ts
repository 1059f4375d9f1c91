import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { inSpan, tracingEnabled } from "@insitu/telemetry";
import type { GatewayHandlerOptions } from "../api.js";
import { GatewayErrorCode, httpStatusFor } from "../errors.js";
import { publicError, sendJson } from "../http/respond.js";
import { matchRoute } from "../http/router.js";
import { API_ROUTES, type GatewayRoute } from "./route-kit.js";

/**
 * The request handler over a route table: request id, route match (404/405), bearer token,
 * tracing span, the observe hook, and the error answer.
 */
export function createDispatch(
  routes: GatewayRoute[],
  options: GatewayHandlerOptions,
): (request: IncomingMessage, response: ServerResponse) => void {
  const { logger } = options;
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const started = performance.now();
    // A client's request id is echoed only when it is a plain token (no header injection).
    const given = request.headers["x-request-id"];
    const requestId =
      typeof given === "string" && /^[A-Za-z0-9._:-]{1,100}$/.test(given) ? given : randomUUID();
    response.setHeader("x-request-id", requestId);
    let url: URL;
    try {
      url = new URL(request.url ?? "/", "http://gateway.local");
    } catch {
      url = new URL("http://gateway.local/");
    }
    const match = matchRoute(routes, request.method ?? "GET", url.pathname);
    const routeLabel = match.kind === "found" ? match.route.pattern : "unmatched";
    response.once("close", () => {
      options.observe?.(
        routeLabel,
        request.method ?? "GET",
        response.statusCode,
        (performance.now() - started) / 1000,
      );
    });
    const run = async (): Promise<void> => {
      if (match.kind === "not-found") {
        throw new InsituError(`no route for ${request.method} ${url.pathname}`, {
          code: GatewayErrorCode.routeNotFound,
          category: ErrorCategory.user,
          details: { routes: [...API_ROUTES] },
        });
      }
      if (match.kind === "method-not-allowed") {
        response.setHeader("allow", match.allowed.join(", "));
        throw new InsituError(`${request.method} is not allowed on ${url.pathname}`, {
          code: GatewayErrorCode.methodNotAllowed,
          category: ErrorCategory.user,
          details: { allowed: match.allowed },
        });
      }
      if (options.apiToken !== undefined && !bearerMatches(request.headers.authorization, options.apiToken)) {
        response.setHeader("www-authenticate", 'Bearer realm="insitu"');
        throw new InsituError("missing or wrong bearer token", {
          code: GatewayErrorCode.unauthorized,
          category: ErrorCategory.user,
        });
      }
      await match.route.handler({ request, response, params: match.params, url, requestId });
    };
    // Tracing hook (docs/adr/0083): the gateway request is the root span of a task's trace.
    const traced = tracingEnabled()
      ? inSpan(
          `${request.method ?? "GET"} ${routeLabel}`,
          {
            kind: "server",
            attributes: {
              "http.request.method": request.method ?? "GET",
              "http.route": routeLabel,
              "insitu.request_id": requestId,
            },
          },
          run,
        )
      : run();
    traced.catch((error: unknown) => {
      const typed = InsituError.from(error);
      const status = httpStatusFor(typed);
      if (status >= 500) logger.error("request failed", { requestId, route: routeLabel, error: typed });
      if (response.headersSent) {
        response.end();
        return;
      }
      // A body we refused to read must not be left in the socket for the next request.
      if (status === 413) response.setHeader("connection", "close");
      sendJson(response, status, { error: { ...publicError(typed), requestId } });
    });
  };
  return handle;
}

/** Constant-time comparison of `Authorization: Bearer <token>` with the configured token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = createHash("sha256").update(match[1]!).digest();
  const expected = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, expected);
}
