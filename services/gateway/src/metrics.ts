import { createMetricsRegistry, MetricName } from "@insitu/telemetry";
import { Counter, Histogram, type Registry } from "prom-client";

/** Gateway metric names; defined once with every other name in libs/telemetry. */
export const GatewayMetricName = {
  httpRequestsTotal: MetricName.gatewayHttpRequestsTotal,
  httpRequestDurationSeconds: MetricName.gatewayHttpRequestDurationSeconds,
} as const;

export interface GatewayMetrics {
  registry: Registry;
  observe(route: string, method: string, status: number, seconds: number): void;
}

/** Route labels are the route patterns (bounded), never raw paths. */
export function createGatewayMetrics(registry: Registry = createMetricsRegistry("gateway")): GatewayMetrics {
  const requests = new Counter({
    name: GatewayMetricName.httpRequestsTotal,
    help: "HTTP requests answered by the gateway, by route pattern, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: GatewayMetricName.httpRequestDurationSeconds,
    help: "Time to answer an HTTP request (for SSE: the whole stream).",
    labelNames: ["route", "method"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
    registers: [registry],
  });
  return {
    registry,
    observe(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      duration.observe({ route, method }, seconds);
    },
  };
}
