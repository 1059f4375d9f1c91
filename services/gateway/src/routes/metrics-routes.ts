import { sendJson } from "../http/respond.js";
import { defineRoute } from "../http/router.js";
import { SeriesQuerySchema, seriesCsv } from "../series.js";
import { ListEvalsQuerySchema, parseInput, queryObject } from "../validation.js";
import type { GatewayRoute, RouteDeps } from "./route-kit.js";

/** Metrics and evals: the summary, the time series (JSON or CSV) and eval runs. */
export function metricsRoutes({ options }: RouteDeps): GatewayRoute[] {
  const { backend } = options;
  return [
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
}
