import type { Bus } from "@insitu/bus";
import { createMemoryBus } from "@insitu/bus/testing";
import {
  RegistryFinishTask,
  RegistryRecordUsage,
  RegistryRegister,
  RegistrySeries,
  RegistryStats,
} from "@insitu/contracts";
import { createLogger, createMetricsRegistry } from "@insitu/telemetry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerRegistryMetrics } from "./metrics.js";
import type { Registry } from "./registry.js";
import { registerRequest, serveRegistry, signedUsage } from "./testing.js";

// On the in-memory bus (a fake of NATS KV / request-reply from @insitu/bus/testing); the figures
// are hand-counted in each test.
const _logger = createLogger({ service: "series-test", level: "error" });
let call = 0;
const usage = (taskId: string, hash: string, outcome: "success" | "execution-failure" = "success") => ({
  callId: `series-call-${++call}`,
  taskId,
  hash,
  outcome,
  latencyMs: 5,
});

describe("EGL as the paper defines it, and the convergence series", () => {
  let bus: Bus;
  let registry: Registry;

  beforeEach(async () => {
    bus = createMemoryBus();
    registry = await serveRegistry(bus);
  });
  afterEach(() => registry.stop());

  it("exports no EGL sample before the first tool call (absent, not 0)", async () => {
    const metrics = createMetricsRegistry("registry", { defaultMetrics: false });
    registerRegistryMetrics(metrics, registry, 5);
    const text = await metrics.metrics();
    expect(text).toContain("# TYPE insitu_egl_ratio gauge");
    expect(text).not.toMatch(/^insitu_egl_ratio\{/m);
    expect(text).not.toMatch(/^insitu_egl_window_ratio\{/m);
    expect(text).toContain('insitu_tools_admitted_total{service="registry"} 0');
  });

  it("counts tools admitted to the library, not versions built, per query index and per batch", async () => {
    // Task a: builds sum_numbers, calls it twice (success) → admitted.
    const sum = await bus.request(RegistryRegister, registerRequest("a", "sum_numbers", "Adds numbers."));
    await bus.request(RegistryRecordUsage, signedUsage([usage("a", sum.hash), usage("a", sum.hash)]));
    await bus.request(RegistryFinishTask, { taskId: "a" });
    // Task b: builds parse_dates, whose one call fails → built but dropped, never admitted.
    const parse = await bus.request(RegistryRegister, registerRequest("b", "parse_dates", "Parses dates."));
    await bus.request(RegistryRecordUsage, signedUsage([usage("b", parse.hash, "execution-failure")]));
    await bus.request(RegistryFinishTask, { taskId: "b" });
    // Task c: builds nothing, reuses sum_numbers once.
    await bus.request(RegistryRecordUsage, signedUsage([usage("c", sum.hash)]));
    await bus.request(RegistryFinishTask, { taskId: "c" });

    // Hand count: 4 calls; 1 tool admitted; 2 versions built. EGL = 1/4 (versions/calls would be 2/4).
    const stats = await bus.request(RegistryStats, {});
    expect(stats.global).toMatchObject({ toolCalls: 4, toolsAdmitted: 1, toolsCreated: 2, egl: 0.25 });

    const series = await bus.request(RegistrySeries, { batchSize: 2 });
    expect(series.total).toBe(3);
    expect(
      series.points.map((point) => [point.index, point.taskId, point.toolCalls, point.toolsAdmitted]),
    ).toEqual([
      [1, "a", 2, 1],
      [2, "b", 3, 1],
      [3, "c", 4, 1],
    ]);
    expect(series.points.map((point) => point.egl)).toEqual([1 / 2, 1 / 3, 1 / 4]);
    expect(series.points[1]?.versionsBuilt).toBe(2);
    expect(series.points[2]?.reuseRate).toBe(1 / 4);
    expect(series.batches).toEqual([
      {
        batch: 1,
        fromIndex: 1,
        toIndex: 2,
        toolCalls: 3,
        toolsAdmitted: 1,
        versionsBuilt: 2,
        librarySize: 1,
        egl: 1 / 3,
        batchEgl: 1 / 3,
        successRate: 2 / 3,
        reuseRate: 0,
      },
      {
        batch: 2,
        fromIndex: 3,
        toIndex: 3,
        toolCalls: 1,
        toolsAdmitted: 0,
        versionsBuilt: 0,
        librarySize: 1,
        egl: 1 / 4,
        batchEgl: 0,
        successRate: 1,
        reuseRate: 1,
      },
    ]);
    // A repeated finish adds no point.
    await bus.request(RegistryFinishTask, { taskId: "a" });
    expect((await bus.request(RegistrySeries, {})).total).toBe(3);

    const metrics = createMetricsRegistry("registry", { defaultMetrics: false });
    registerRegistryMetrics(metrics, registry, 5, { window: 2, batchSize: 2 });
    const text = await metrics.metrics();
    expect(text).toContain('insitu_egl_ratio{service="registry"} 0.25');
    expect(text).toContain('insitu_tools_admitted_total{service="registry"} 1');
    expect(text).toContain('insitu_tools_created_total{service="registry"} 2');
    // The last 2 tasks (b, c): 2 calls, 0 admitted.
    expect(text).toContain('insitu_egl_window_ratio{service="registry"} 0');
    // The last complete batch of 2 is batch 1.
    expect(text).toContain(`insitu_batch_egl_ratio{batch="1",service="registry"} ${1 / 3}`);
    expect(text).toContain('insitu_batch_library_tools{batch="1",service="registry"} 1');
  });
});
