import type { Bus } from "@insitu/bus";
import { contractRegistry, type EndpointContract } from "@insitu/contracts";
import { ErrorCode, InsituError } from "@insitu/errors";
import type { MetricsSummary } from "./backend.js";

/** The registry endpoints the gateway reads: list / search, history, stats. */
export interface RegistryClient {
  listTools(options: { query?: string; limit?: number }): Promise<unknown>;
  toolHistory(name: string): Promise<unknown>;
  metricsSummary(): Promise<MetricsSummary>;
}

function endpoint(name: string): EndpointContract {
  const found = contractRegistry.contracts.find(
    (contract): contract is EndpointContract =>
      contract.kind === "endpoint" && contract.service === "registry" && contract.name === name,
  );
  if (!found) {
    throw new InsituError(`the registry contract "${name}" is not defined in this build`, {
      code: ErrorCode.unavailable,
      retryable: false,
    });
  }
  return found;
}

export function createRegistryClient(bus: Bus, options: { timeoutMs: number }): RegistryClient {
  const call = (name: string, data: unknown): Promise<unknown> =>
    bus.request(endpoint(name), data as never, { timeoutMs: options.timeoutMs });
  return {
    listTools: (query) => call("list", query),
    toolHistory: (name) => call("history", { name }),
    metricsSummary: async () => summarize(await call("stats", {})),
  };
}

export function summarize(stats: unknown): MetricsSummary {
  const record = (stats ?? {}) as Record<string, unknown>;
  const number = (value: unknown): number =>
    typeof value === "number" && Number.isFinite(value) ? value : 0;
  const toolCalls = number(record.toolCalls);
  return {
    librarySize: number(record.librarySize),
    toolsCreated: number(record.toolsCreated),
    toolCalls,
    callsByOutcome: {},
    egl: toolCalls > 0 ? number(record.toolsCreated) / toolCalls : null,
    successRate: null,
    reuseRate: null,
  };
}
