import type { Bus, KvBucket } from "@insitu/bus";
import { EvolverEvents, type EvolverReport, evolverReportKey } from "@insitu/contracts";
import type { WorkHooks } from "@insitu/roles";
import type { Logger } from "@insitu/telemetry";
import { type EvolverPorts, runBarrier } from "./absorb.js";

/**
 * One barrier per work item. The report in KV is the item's end: a redelivered item whose report
 * exists is done; one without a report runs again (its commit, if it happened, is found by tag).
 * Barriers run one at a time in this process, so two barriers never build on the same snapshot.
 */
export function createEvolver(deps: {
  bus: Bus;
  state: KvBucket;
  ports: Omit<EvolverPorts, "heartbeat">;
  logger: Logger;
}) {
  let chain: Promise<unknown> = Promise.resolve();
  const handle = async (barrierId: string, hooks?: Pick<WorkHooks, "heartbeat">): Promise<EvolverReport> => {
    const existing = await deps.state.get<EvolverReport>(evolverReportKey(barrierId));
    if (existing) return existing.value;
    const report = await runBarrier(barrierId, { ...deps.ports, heartbeat: hooks?.heartbeat });
    await deps.state.put(evolverReportKey(barrierId), report);
    await deps.bus.publish(EvolverEvents, report);
    deps.logger.info("barrier absorbed", {
      barrierId,
      snapshot: report.snapshot,
      merged: report.merged.length,
      rejected: report.rejected.length,
      librarySize: report.librarySize,
    });
    return report;
  };
  return {
    handleBarrier(barrierId: string, hooks?: Pick<WorkHooks, "heartbeat">): Promise<EvolverReport> {
      const run = chain.then(() => handle(barrierId, hooks));
      chain = run.catch(() => undefined);
      return run;
    },
  };
}
