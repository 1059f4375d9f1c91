import { isInsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { EnforcementMechanism } from "./enforcement.js";
import { type LimitsReportInput, assertExactLimits, limitsReport } from "./limits-report.js";
import { prlimitArgs } from "./process-slot.js";
import { DEFAULT_WORK_QUOTA } from "./work-quota.js";

const base: LimitsReportInput = {
  mechanism: EnforcementMechanism.cgroupV1,
  reason: "test",
  workStorage: "tmpfs",
  uid: 0,
  workQuota: DEFAULT_WORK_QUOTA,
  maxPids: 64,
  maxUserProcesses: undefined,
  maxFileBytes: 64 * 1024 * 1024,
  cgroupV2: { delegated: false, detail: "no cgroup2 mount (cgroup v1 only)" },
};

describe("limitsReport", () => {
  it("is exact with a cgroup and the sandbox's tmpfs", () => {
    const report = limitsReport(base);
    expect(report.exact).toBe(true);
    expect(report.degraded).toEqual([]);
    expect(() => assertExactLimits(report)).not.toThrow();
  });

  it("names memory, pids and the work dir as degraded in the shipped image's mode", () => {
    const report = limitsReport({
      ...base,
      mechanism: EnforcementMechanism.prlimit,
      workStorage: "disk",
      uid: 1000,
      maxUserProcesses: 900,
    });
    expect(report.exact).toBe(false);
    expect(report.degraded).toEqual(["memory", "pids", "work_dir"]);
    expect(report.limits.pids.by).toMatch(/RLIMIT_NPROC 900 for the whole user/);
    expect(report.limits.work_dir.by).toMatch(/256 MiB \/ 10000-file quota polled every 20 ms/);
    let thrown: unknown;
    try {
      assertExactLimits(report);
    } catch (error) {
      thrown = error;
    }
    expect(isInsituError(thrown, "SANDBOX_LIMITS_DEGRADED")).toBe(true);
    expect((thrown as Error).message).toMatch(/memory: RLIMIT_DATA.*pids: .*work_dir: /);
  });

  it("says pids are unbounded per call for root under prlimit", () => {
    const report = limitsReport({
      ...base,
      mechanism: EnforcementMechanism.prlimit,
      workStorage: "disk",
      uid: 0,
    });
    expect(report.limits.pids.by).toMatch(/ignored for root/);
  });

  it("a cgroup with work dirs on disk still degrades the work dir", () => {
    expect(limitsReport({ ...base, workStorage: "disk" }).degraded).toEqual(["work_dir"]);
  });
});

describe("prlimitArgs", () => {
  const environment = { startupAllowanceMs: 300, maxFileBytes: 1024, maxUserProcesses: 900 };
  it("adds RLIMIT_DATA and RLIMIT_NPROC only without a cgroup", () => {
    const prlimit = prlimitArgs(
      { ...environment, enforcement: { mechanism: EnforcementMechanism.prlimit } as never },
      { timeoutMs: 1000 },
      640,
    );
    expect(prlimit).toEqual(
      expect.arrayContaining(["--cpu=3:3", "--fsize=1024:1024", "--data=640:640", "--nproc=900:900"]),
    );
    const cgroup = prlimitArgs(
      { ...environment, enforcement: { mechanism: EnforcementMechanism.cgroupV2 } as never },
      { timeoutMs: 1000 },
      640,
    );
    expect(cgroup.some((flag) => flag.startsWith("--data") || flag.startsWith("--nproc"))).toBe(false);
  });
});
