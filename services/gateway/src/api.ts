import { SeriesQuerySchema, seriesCsv } from "./series.js";
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type TaskEvent, type TaskRecord, isTerminalTaskStatus } from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { inSpan, type Logger, tracingEnabled } from "@insitu/telemetry";
import type { GatewayBackend, GatewayBatches } from "./backend.js";
import { readBatchBody } from "./batches/batch-body.js";
import { streamBatchEvents } from "./batches/batch-stream.js";
import { GatewayErrorCode, httpStatusFor } from "./errors.js";
import { readJsonBody } from "./http/body.js";
import { readTaskBody } from "./http/task-body.js";
import { type AttachmentInput, checkAttachments } from "@insitu/files";
import { type Route, defineRoute, matchRoute } from "./http/router.js";
import { SseStream, parseLastEventId } from "./http/sse.js";
import {
  BatchIdParamSchema,
  BatchListQuerySchema,
  ListEvalsQuerySchema,
  ListReviewsQuerySchema,
  ReviewDecisionBodySchema,
  VersionHashParamSchema,
  ListToolsQuerySchema,
  SubmitTaskBodySchema,
  TaskIdParamSchema,
  TaskListQuerySchema,
  ToolNameParamSchema,
  parseInput,
  queryObject,
} from "./validation.js";

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

interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  params: Record<string, string>;
  url: URL;
  requestId: string;
}

type Handler = (context: RequestContext) => Promise<void>;

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

/** The gateway's HTTP API; /healthz, /readyz and /metrics come from the service runtime. */
export interface GatewayApi {
  /** Handles one request (answers 404 itself for unknown routes). */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** Ends every open event stream (on SIGTERM; clients reconnect with Last-Event-ID). */
  close(): void;
  /** Event streams open now. */
  readonly openStreams: number;
}

export function createGatewayApi(options: GatewayHandlerOptions): GatewayApi {
  const { backend, logger } = options;
  const streams = new Set<SseStream>();

  const batchRuns = (): GatewayBatches => {
    if (options.batches) return options.batches;
    throw new InsituError("this gateway does not run batches", {
      code: "UNAVAILABLE",
      category: ErrorCategory.system,
    });
  };
  const batchView = async (id: string) => {
    const view = await batchRuns().get(id);
    if (!view) {
      throw new InsituError(`no batch run ${id}`, { code: "NOT_FOUND", category: ErrorCategory.user });
    }
    return view;
  };
  const batchLinks = (id: string) => ({
    self: `/v1/batches/${id}`,
    events: `/v1/batches/${id}/events`,
    predictions: `/v1/batches/${id}/predictions`,
  });

  const reviews = () => {
    const { listReviews, getVersion, decideReview } = backend;
    if (!listReviews || !getVersion || !decideReview) {
      throw new InsituError("this gateway has no registry to review tools with", {
        code: "UNAVAILABLE",
        category: ErrorCategory.system,
      });
    }
    return {
      listReviews: listReviews.bind(backend),
      getVersion: getVersion.bind(backend),
      decideReview: decideReview.bind(backend),
    };
  };
  const routes: Route<Handler>[] = [
    defineRoute("POST", "/v1/batches", async ({ request, response, url }) => {
      const batches = batchRuns();
      // Every line is checked before anything is stored or started (a bad one names its line).
      const input = await readBatchBody(request, url, options.batchBodyLimitBytes ?? options.bodyLimitBytes);
      const { created, view } = await batches.submit(input);
      sendJson(response, created ? 202 : 200, { ...view, links: batchLinks(view.runId) });
    }),
    defineRoute("GET", "/v1/batches", async ({ response, url }) => {
      const query = parseInput(BatchListQuerySchema, queryObject(url.searchParams), "query");
      const runs = await batchRuns().list(query.limit ?? 20);
      // The list leaves the per-batch rows out (GET /v1/batches/:id has them).
      sendJson(response, 200, {
        batches: runs.map(({ rows, ...run }) => ({
          ...run,
          batchesDone: rows.length,
          links: batchLinks(run.runId),
        })),
      });
    }),
    defineRoute("GET", "/v1/batches/:id", async ({ response, params }) => {
      const { id } = parseInput(BatchIdParamSchema, params, "path");
      sendJson(response, 200, { ...(await batchView(id)), links: batchLinks(id) });
    }),
    defineRoute("GET", "/v1/batches/:id/predictions", async ({ response, params, url }) => {
      const { id } = parseInput(BatchIdParamSchema, params, "path");
      await batchView(id);
      const lines = await batchRuns().predictions(id);
      if (!lines) {
        throw new InsituError(
          `batch run ${id} was started by \`insitu batch\`: its predictions are in that command's --out folder`,
          { code: "NOT_FOUND", category: ErrorCategory.user },
        );
      }
      if (url.searchParams.get("format") === "json") {
        sendJson(response, 200, { predictions: lines });
        return;
      }
      const text = lines.map((line) => `${JSON.stringify(line)}\n`).join("");
      response.writeHead(200, {
        "content-type": "application/x-ndjson; charset=utf-8",
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-store",
      });
      response.end(text);
    }),
    defineRoute("GET", "/v1/batches/:id/events", async (context) => {
      const { id } = parseInput(BatchIdParamSchema, context.params, "path");
      if (streams.size >= (options.maxStreams ?? 1000)) {
        throw new InsituError(`too many open event streams (${streams.size}); retry later`, {
          code: GatewayErrorCode.tooManyStreams,
          retryable: true,
          details: { limit: options.maxStreams ?? 1000 },
        });
      }
      // 404 for an unknown run before the stream opens.
      await batchView(id);
      const stream = new SseStream(context.response, options.heartbeatMs);
      streams.add(stream);
      context.response.once("close", () => streams.delete(stream));
      await streamBatchEvents(batchRuns(), id, stream, context.response, logger);
    }),
    defineRoute("POST", "/v1/tasks", async ({ request, response }) => {
      const raw = await readTaskBody(request, options.taskBodyLimitBytes ?? options.bodyLimitBytes);
      const { attachments: encoded, ...body } = parseInput(SubmitTaskBodySchema, raw.fields, "body");
      const inputs: AttachmentInput[] = [
        ...(encoded ?? []).map((attachment) => ({
          name: attachment.name,
          bytes: new Uint8Array(Buffer.from(attachment.data, "base64")),
          ...(attachment.mediaType ? { declaredType: attachment.mediaType } : {}),
        })),
        ...raw.files,
      ];
      let submission: Parameters<GatewayBackend["submitTask"]>[0] = body;
      if (inputs.length > 0) {
        // Every attachment is checked before any is stored; a refused one fails the whole submit.
        const checked = checkAttachments(inputs);
        if (!backend.storeAttachments) {
          throw new InsituError("this gateway cannot store attachments", {
            code: "UNAVAILABLE",
            category: ErrorCategory.system,
          });
        }
        const taskId = body.taskId ?? `t-${randomUUID()}`;
        submission = { ...body, taskId, attachments: await backend.storeAttachments(taskId, checked) };
      }
      const submitted = await backend.submitTask(submission);
      sendJson(response, 202, {
        ...submitted,
        links: { self: `/v1/tasks/${submitted.taskId}`, events: `/v1/tasks/${submitted.taskId}/events` },
      });
    }),
    defineRoute("GET", "/v1/tasks", async ({ response, url }) => {
      const query = parseInput(TaskListQuerySchema, queryObject(url.searchParams), "query");
      sendJson(response, 200, await backend.listTasks(query.limit));
    }),
    defineRoute("GET", "/v1/tasks/:id", async ({ response, params }) => {
      const { id } = parseInput(TaskIdParamSchema, params, "path");
      sendJson(response, 200, await backend.getTask(id));
    }),
    defineRoute("GET", "/v1/tasks/:id/events", async (context) => {
      const { id } = parseInput(TaskIdParamSchema, context.params, "path");
      if (streams.size >= (options.maxStreams ?? 1000)) {
        throw new InsituError(`too many open event streams (${streams.size}); retry later`, {
          code: GatewayErrorCode.tooManyStreams,
          retryable: true,
          details: { limit: options.maxStreams ?? 1000 },
        });
      }
      // 404 for an unknown task before the stream opens (afterwards only events can be sent).
      const record = await backend.getTask(id);
      await streamTaskEvents(context, id, record);
    }),
    defineRoute("GET", "/v1/tools", async ({ response, url }) => {
      const query = parseInput(ListToolsQuerySchema, queryObject(url.searchParams), "query");
      sendJson(
        response,
        200,
        await backend.listTools({
          ...(query.q === undefined ? {} : { query: query.q }),
          ...(query.limit === undefined ? {} : { limit: query.limit }),
        }),
      );
    }),
    defineRoute("GET", "/v1/tools/:name/history", async ({ response, params }) => {
      const { name } = parseInput(ToolNameParamSchema, params, "path");
      sendJson(response, 200, await backend.toolHistory(name));
    }),
    // Operator review (docs/adr/0130): what waits, one version in full, and the decision.
    defineRoute("GET", "/v1/reviews", async ({ response, url }) => {
      const query = parseInput(ListReviewsQuerySchema, queryObject(url.searchParams), "query");
      sendJson(response, 200, await reviews().listReviews(query));
    }),
    defineRoute("GET", "/v1/versions/:hash", async ({ response, params }) => {
      const { hash } = parseInput(VersionHashParamSchema, params, "path");
      sendJson(response, 200, await reviews().getVersion(hash));
    }),
    defineRoute("POST", "/v1/reviews/:hash/decision", async ({ request, response, params }) => {
      const { hash } = parseInput(VersionHashParamSchema, params, "path");
      const body = parseInput(
        ReviewDecisionBodySchema,
        await readJsonBody(request, options.bodyLimitBytes),
        "body",
      );
      sendJson(response, 200, await reviews().decideReview({ hash, ...body }));
    }),
    defineRoute("GET", "/v1/metrics/summary", async ({ response }) => {
      sendJson(response, 200, await backend.metricsSummary());
    }),
    defineRoute("GET", "/v1/evals", async ({ response, url }) => {
      const query = parseInput(ListEvalsQuerySchema, queryObject(url.searchParams), "query");
      sendJson(response, 200, await backend.listEvals({ limit: query.limit ?? 10 }));
    }),
    defineRoute("GET", "/v1/metrics/series", async ({ response, url }) => {
      const query = parseInput(SeriesQuerySchema, queryObject(url.searchParams), "query");
      const series = await backend.metricsSeries({
        ...(query.batch === undefined ? {} : { batchSize: query.batch }),
        ...(query.limit === undefined ? {} : { limit: query.limit }),
      });
      if (query.format !== "csv") {
        sendJson(response, 200, series);
        return;
      }
      const text = seriesCsv(series.points);
      response.writeHead(200, {
        "content-type": "text/csv; charset=utf-8",
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-store",
      });
      response.end(text);
    }),
  ];

  async function streamTaskEvents(
    context: RequestContext,
    taskId: string,
    record: TaskRecord,
  ): Promise<void> {
    const { request, response } = context;
    const skipThrough = parseLastEventId(request.headers["last-event-id"]);
    const stream = new SseStream(response, options.heartbeatMs);
    streams.add(stream);
    response.once("close", () => streams.delete(stream));
    stream.comment(`task ${taskId}`);
    let sequence = 0;
    let ended = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (graceTimer) clearTimeout(graceTimer);
      stop();
      stream.close();
    };
    const deliver = (event: TaskEvent): void => {
      if (ended || stream.isClosed) return;
      sequence += 1;
      if (sequence > skipThrough) stream.send({ id: sequence, event: event.kind, data: event });
      if (event.kind === "task-end") {
        ended = true;
        // Let the write flush before ending the response.
        setImmediate(finish);
      }
    };
    const stop = backend.followTaskEvents(taskId, deliver);
    response.once("close", () => {
      if (graceTimer) clearTimeout(graceTimer);
      stop();
    });
    if (isTerminalTaskStatus(record.status)) {
      graceTimer = setTimeout(() => {
        if (!ended) deliver(taskEndFromRecord(record));
      }, options.terminalGraceMs);
    }
  }

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

  return {
    handle,
    close() {
      for (const stream of streams) stream.close();
      streams.clear();
    },
    get openStreams() {
      return streams.size;
    },
  };
}

/** Constant-time comparison of `Authorization: Bearer <token>` with the configured token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = createHash("sha256").update(match[1]!).digest();
  const expected = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, expected);
}

function publicError(error: InsituError): Record<string, unknown> {
  const json = error.toJSON();
  // Causes can carry internal detail (stack-ish messages, subjects); clients get code and message.
  return {
    code: json.code,
    message: json.message,
    category: json.category,
    retryable: json.retryable,
    details: json.details,
  };
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  response.end(text);
}

/** The `task-end` event a finished task would have published, rebuilt from its record. */
export function taskEndFromRecord(record: TaskRecord): TaskEvent {
  return {
    kind: "task-end",
    taskId: record.taskId,
    time: record.finishedAt ?? record.updatedAt,
    status: record.status,
    ...(record.answer ? { answer: record.answer } : {}),
    ...(record.error ? { error: record.error } : {}),
    toolsUsed: record.toolsUsed,
    toolsCreated: record.toolsCreated,
    usage: record.usage,
  };
}
