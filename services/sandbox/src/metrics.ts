import { MetricName } from "@insitu/telemetry";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Sandbox } from "./sandbox.js";

/**
 * Sandbox metrics. `insitu_sandbox_limit_enforcement{mechanism}` is 1 for the mechanism in force
 * (cgroup-v2, cgroup-v1 or prlimit), so a dashboard shows which limits a replica really applies.
 */
export function registerSandboxMetrics(
  registry: Registry,
  sandbox: Sandbox,
): { countCheck(cached: boolean, ok: boolean): void } {
  const mechanism = new Gauge({
    name: MetricName.sandboxLimitEnforcement,
    help: "1 for the memory/pids limit mechanism in force (label mechanism: cgroup-v2, cgroup-v1, prlimit); work_storage says where work dirs live.",
    labelNames: ["mechanism", "work_storage"],
    registers: [registry],
  });
  mechanism.set({ mechanism: sandbox.enforcement.mechanism, work_storage: sandbox.workStorage }, 1);
  const degraded = new Gauge({
    name: MetricName.sandboxLimitDegraded,
    help: "1 where a per-call limit is a degraded stand-in (prlimit, polling), 0 where the kernel enforces it exactly (ADR 0135); label limit.",
    labelNames: ["limit"],
    registers: [registry],
  });
  const report = sandbox.limitsReport();
  for (const [limit, state] of Object.entries(report.limits))
    degraded.set({ limit }, state.enforcement === "degraded" ? 1 : 0);
  const executions = new Counter({
    name: MetricName.sandboxExecutionsTotal,
    help: "Tool executions by outcome status and whether a pre-spawned process served them.",
    labelNames: ["status", "warm"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: MetricName.sandboxExecutionDurationSeconds,
    help: "Wall time of a tool execution, from job hand-over to exit, seconds.",
    labelNames: ["status"],
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  const peak = new Histogram({
    name: MetricName.sandboxCallPeakMemoryBytes,
    help: "Peak memory charged to a call's cgroup (after the process joined it), bytes.",
    buckets: [8, 16, 32, 64, 128, 256, 512, 1024, 2048].map((mb) => mb * 1024 * 1024),
    registers: [registry],
  });
  new Gauge({
    name: MetricName.sandboxQueueDepth,
    help: "Calls waiting for an execution slot in this replica.",
    registers: [registry],
    collect() {
      this.set(sandbox.admission.queued);
    },
  });
  new Gauge({
    name: MetricName.sandboxExecutionsRunning,
    help: "Executions running in this replica.",
    registers: [registry],
    collect() {
      this.set(sandbox.admission.active);
    },
  });
  new Gauge({
    name: MetricName.sandboxWarmProcesses,
    help: "Pre-spawned single-use Deno processes waiting for a job.",
    registers: [registry],
    collect() {
      this.set(sandbox.warmPool.size);
    },
  });
  new Counter({
    name: MetricName.sandboxWarmTakesTotal,
    help: "Executions that asked the warm pool, by result (hit: a process was ready).",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: "hit" }, sandbox.warmPool.hits);
      this.inc({ result: "miss" }, sandbox.warmPool.misses);
    },
  });
  const checks = new Counter({
    name: MetricName.sandboxChecksTotal,
    help: "Type checks by result and whether the content-hash cache answered.",
    labelNames: ["ok", "cached"],
    registers: [registry],
  });
  const egressRequests = new Counter({
    name: MetricName.sandboxEgressRequestsTotal,
    help: "Requests tools sent through the egress proxy, by result (forwarded, denied).",
    labelNames: ["result"],
    registers: [registry],
  });
  const egressDenied = new Counter({
    name: MetricName.sandboxEgressDeniedTotal,
    help: "Requests the egress proxy refused (counted even when the tool caught the error), by tool.",
    labelNames: ["tool"],
    registers: [registry],
  });
  const egressBytes = new Counter({
    name: MetricName.sandboxEgressBytesTotal,
    help: "Body bytes moved through the egress proxy, by direction (in: from origins).",
    labelNames: ["direction"],
    registers: [registry],
  });
  sandbox.egress.onRequest((entry) => {
    egressRequests.inc({ result: entry.denied ? "denied" : "forwarded" });
    if (entry.denied) egressDenied.inc({ tool: entry.tool });
    egressBytes.inc({ direction: "in" }, entry.bytesIn);
    egressBytes.inc({ direction: "out" }, entry.bytesOut);
  });
  sandbox.onExec(({ outcome, warm, peakMemoryBytes }) => {
    executions.inc({ status: outcome.status, warm: String(warm) });
    duration.observe({ status: outcome.status }, outcome.durationMs / 1000);
    if (peakMemoryBytes !== undefined) peak.observe(peakMemoryBytes);
  });
  return { countCheck: (cached, ok) => checks.inc({ cached: String(cached), ok: String(ok) }) };
}
