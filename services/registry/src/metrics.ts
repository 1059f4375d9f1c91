import { MetricName } from "@insitu/telemetry";
import { Counter, Gauge, type Registry as PromRegistry } from "prom-client";
import type { Registry } from "./registry.js";

/** How many tool names the top-tools metric labels at most (bounded cardinality). */
export const DEFAULT_TOP_TOOLS = 20;

/**
 * Convergence metrics, computed at scrape time from the registry's view of durable state (KV), so
 * they survive restarts and agree across replicas. Counters are reset and re-set to the durable
 * totals on every scrape: prom-client counters cannot be set directly, and this keeps them
 * monotonic exactly as long as the stored totals are.
 *
 * Cardinality: `tool` labels appear only on {@link MetricName.topToolCallsTotal}, and only for the
 * `topTools` most-called names at scrape time; the label set is cleared before each scrape, so at
 * most `topTools` series exist however large the library grows.
 */
export function registerRegistryMetrics(
  metrics: PromRegistry,
  registry: Registry,
  topTools = DEFAULT_TOP_TOOLS,
): void {
  // Each collector recomputes: a scrape of 10,000 versions costs well under a millisecond each.
  const figures = () => registry.convergence(topTools);
  new Gauge({
    name: MetricName.libraryTools,
    help: "Tools in the current library snapshot (count).",
    registers: [metrics],
    collect() {
      this.set(figures().librarySize);
    },
  });
  new Counter({
    name: MetricName.toolsCreatedTotal,
    help: "Tool versions created by tasks (created, repaired, merged; not imported), cumulative.",
    registers: [metrics],
    collect() {
      this.reset();
      this.inc(figures().toolsCreated);
    },
  });
  new Counter({
    name: MetricName.toolCallsTotal,
    help: "Tool calls recorded, by outcome (success, input-error, execution-failure, timeout, denied, output-error).",
    labelNames: ["outcome"],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(figures().callsByOutcome)) this.inc({ outcome }, count);
    },
  });
  new Gauge({
    name: MetricName.evolutionaryGeneralityLoss,
    help: "EGL: cumulative tools created / cumulative tool calls (ratio; falls toward 0 as the library converges).",
    registers: [metrics],
    collect() {
      this.set(figures().egl);
    },
  });
  new Gauge({
    name: MetricName.toolSuccessRatio,
    help: "Successful tool calls / all tool calls (ratio 0..1).",
    registers: [metrics],
    collect() {
      this.set(figures().successRate);
    },
  });
  new Gauge({
    name: MetricName.toolReuseRatio,
    help: "Calls to tools created by another (earlier) task / all tool calls (ratio 0..1).",
    registers: [metrics],
    collect() {
      this.set(figures().reuseRate);
    },
  });
  new Counter({
    name: MetricName.tasksSeenTotal,
    help: "Distinct tasks that registered, searched or called tools, cumulative.",
    registers: [metrics],
    collect() {
      this.reset();
      this.inc(figures().tasksSeen);
    },
  });
  new Gauge({
    name: MetricName.librarySnapshot,
    help: "Number of the current library snapshot (0 = empty library).",
    registers: [metrics],
    collect() {
      this.set(figures().snapshot);
    },
  });
  new Gauge({
    name: MetricName.topToolCallsTotal,
    help: `Calls of the ${topTools} most-called tool names (all versions), labelled by tool; other names are not exported.`,
    labelNames: ["tool"],
    registers: [metrics],
    collect() {
      this.reset();
      for (const { name, calls } of figures().topTools) this.set({ tool: name }, calls);
    },
  });
}
