import { MetricName } from "@insitu/telemetry";
import { Counter, Gauge, type Registry as PromRegistry } from "prom-client";
import type { Registry } from "./registry.js";

/**
 * A gauge that exports no sample while `present` is false: a ratio with no denominator yet is
 * absent, not 0 (a 0 EGL would read as "perfectly converged"). prom-client always exports a
 * labelless gauge's value, so `get` drops the samples instead.
 */
class OptionalGauge<T extends string = string> extends Gauge<T> {
  present = true;

  override async get(): ReturnType<Gauge<T>["get"]> {
    const metric = await super.get();
    return this.present ? metric : { ...metric, values: [] };
  }
}

/** Marks an {@link OptionalGauge} present or absent from inside its `collect` (typed as a Gauge). */
function presence(gauge: Gauge<string>, present: boolean): void {
  (gauge as OptionalGauge).present = present;
}

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
  { window = 50, batchSize = 16 }: { window?: number; batchSize?: number } = {},
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
  new Counter({
    name: MetricName.toolsAdmittedTotal,
    help: "Tools admitted to the library (versions that entered a snapshot; not imported), cumulative.",
    registers: [metrics],
    collect() {
      this.reset();
      this.inc(figures().toolsAdmitted ?? 0);
    },
  });
  new OptionalGauge({
    name: MetricName.evolutionaryGeneralityLoss,
    help: "EGL: tools admitted to the library / tool calls, cumulative (ratio; falls toward 0 as the library converges). Absent before the first tool call.",
    registers: [metrics],
    collect() {
      const { egl, toolCalls } = figures();
      presence(this, toolCalls > 0);
      this.set(egl);
    },
  });
  // The series gauges: EGL over the last `window` finished tasks, and the last complete batch's.
  const series = () => registry.seriesFigures(window, batchSize);
  new OptionalGauge({
    name: MetricName.eglWindowRatio,
    help: `EGL over the last ${window} finished tasks: tools admitted / tool calls within them (ratio). Absent until they made a call.`,
    registers: [metrics],
    collect() {
      const value = series().windowEgl;
      presence(this, value !== null);
      this.set(value ?? 0);
    },
  });
  new OptionalGauge({
    name: MetricName.batchEglRatio,
    help: `Cumulative EGL at the end of the last complete batch of ${batchSize} finished tasks (the paper's EGL(t)); label batch = its number. Absent before the first.`,
    labelNames: ["batch"],
    registers: [metrics],
    collect() {
      this.reset();
      const last = series().lastBatch;
      presence(this, last?.egl !== null && last?.egl !== undefined);
      if (last && last.egl !== null) this.set({ batch: String(last.batch) }, last.egl);
    },
  });
  new OptionalGauge({
    name: MetricName.batchLibraryTools,
    help: `Library size at the end of the last complete batch of ${batchSize} finished tasks; label batch = its number.`,
    labelNames: ["batch"],
    registers: [metrics],
    collect() {
      this.reset();
      const last = series().lastBatch;
      presence(this, last !== undefined);
      if (last) this.set({ batch: String(last.batch) }, last.librarySize);
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
  new OptionalGauge({
    name: MetricName.librarySnapshotServed,
    help: "While the current snapshot's body is unreadable: the earlier snapshot whose tool set is served (absent otherwise).",
    registers: [metrics],
    collect() {
      const fallback = registry.view.fallback;
      presence(this, fallback !== undefined);
      this.set(fallback?.serving ?? 0);
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
