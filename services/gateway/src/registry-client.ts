import type { Bus } from "@insitu/bus";
import {
  type ConvergenceStats,
  RegistryGet,
  RegistryHistory,
  RegistryList,
  RegistryReviewDecide,
  RegistryReviewList,
  RegistrySearch,
  RegistrySeries,
  RegistryStats,
  type Reply,
} from "@insitu/contracts";
import type { MetricsSummary } from "./backend.js";

/** The registry endpoints the gateway reads: list / search, history, stats. */
export interface RegistryClient {
  listTools(options: { query?: string; limit?: number }): Promise<unknown>;
  toolHistory(name: string): Promise<unknown>;
  listReviews(options: { state?: "pending" | "approved" | "rejected"; limit?: number }): Promise<unknown>;
  getVersion(hash: string): Promise<unknown>;
  decideReview(input: {
    hash: string;
    decision: "approve" | "deny";
    by: string;
    reason: string;
  }): Promise<unknown>;
  metricsSummary(): Promise<MetricsSummary>;
  metricsSeries(options: { batchSize?: number; limit?: number }): Promise<Reply<typeof RegistrySeries>>;
}

export function createRegistryClient(bus: Bus, options: { timeoutMs: number }): RegistryClient {
  const timeout = { timeoutMs: options.timeoutMs };
  return {
    async listTools({ query, limit }) {
      if (query !== undefined) {
        return bus.request(RegistrySearch, { query, k: Math.min(limit ?? 10, 100), mode: "auto" }, timeout);
      }
      return bus.request(RegistryList, { scope: "library", offset: 0, limit: limit ?? 100 }, timeout);
    },
    toolHistory: (name) => bus.request(RegistryHistory, { name }, timeout),
    listReviews: ({ state, limit }) =>
      bus.request(
        RegistryReviewList,
        { ...(state === undefined ? {} : { state }), ...(limit === undefined ? {} : { limit }) },
        timeout,
      ),
    getVersion: (hash) => bus.request(RegistryGet, { by: "hash", hash }, timeout),
    decideReview: (input) => bus.request(RegistryReviewDecide, input, timeout),
    async metricsSummary() {
      const stats = await bus.request(RegistryStats, { top: 10 }, timeout);
      return summarize(stats.global);
    },
    metricsSeries: ({ batchSize, limit }) =>
      bus.request(
        RegistrySeries,
        {
          ...(batchSize === undefined ? {} : { batchSize }),
          ...(limit === undefined ? {} : { limit }),
        },
        timeout,
      ),
  };
}

/** Registry convergence figures → the gateway's summary (rates are null before the first call). */
export function summarize(stats: ConvergenceStats): MetricsSummary {
  const called = stats.toolCalls > 0;
  return {
    librarySize: stats.librarySize,
    toolsCreated: stats.toolsCreated,
    ...(stats.toolsAdmitted === undefined ? {} : { toolsAdmitted: stats.toolsAdmitted }),
    toolCalls: stats.toolCalls,
    callsByOutcome: stats.callsByOutcome,
    egl: called ? stats.egl : null,
    successRate: called ? stats.successRate : null,
    reuseRate: called ? stats.reuseRate : null,
    tasksSeen: stats.tasksSeen,
    snapshot: stats.snapshot,
    topTools: stats.topTools,
  };
}
