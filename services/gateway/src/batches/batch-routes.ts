import { ErrorCategory, InsituError } from "@insitu/errors";
import type { GatewayBatches } from "../backend.js";
import { GatewayErrorCode } from "../errors.js";
import { sendJson } from "../http/respond.js";
import { defineRoute } from "../http/router.js";
import { SseStream } from "../http/sse.js";
import type { GatewayRoute, RouteDeps } from "../routes/route-kit.js";
import { BatchIdParamSchema, BatchListQuerySchema, parseInput, queryObject } from "../validation.js";
import { readBatchBody } from "./batch-body.js";
import { streamBatchEvents } from "./batch-stream.js";

/** `/v1/batches`: start a batch run, list runs, one run, its predictions and its event stream. */
export function batchRoutes({ options, streams }: RouteDeps): GatewayRoute[] {
  const { logger } = options;
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

  return [
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
  ];
}
