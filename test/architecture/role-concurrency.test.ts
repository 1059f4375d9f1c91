import { DEFAULT_BATCH_SIZE } from "@insitu/cli";
import { ExecutorConfigSchema } from "@insitu/executor";
import { IntegratorConfigSchema } from "@insitu/integrator";
import { ManagerConfigSchema } from "@insitu/manager";
import { ToolDeveloperConfigSchema } from "@insitu/tool-developer";
import { describe, expect, it } from "vitest";

/**
 * ADR 0113: one replica of each role runs a whole default batch's work at once. A role's work
 * mostly waits on the model (the sandbox bounds the CPU-heavy part with its own admission), so a
 * lower limit only makes a batch's tasks queue behind each other — test/bench/batch measured
 * 4.65 model calls in flight for a batch of 16 with the executor at 4.
 */
describe("role concurrency defaults carry a default batch", () => {
  const defaults = {
    manager: ManagerConfigSchema.parse({}).WORK_CONCURRENCY,
    executor: ExecutorConfigSchema.parse({}).EXECUTOR_CONCURRENCY,
    integrator: IntegratorConfigSchema.parse({}).INTEGRATOR_CONCURRENCY,
  };

  it.each(Object.entries(defaults))("%s handles a default batch's tasks at once", (_role, concurrency) => {
    expect(concurrency).toBeGreaterThanOrEqual(DEFAULT_BATCH_SIZE);
  });

  it("the tool developer overlaps half a batch's builds (their checks and tests queue in the sandbox)", () => {
    expect(ToolDeveloperConfigSchema.parse({}).BUILD_CONCURRENCY).toBeGreaterThanOrEqual(
      DEFAULT_BATCH_SIZE / 2,
    );
  });
});
