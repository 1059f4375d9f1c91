import { InsituError } from "@insitu/errors";
import { EnforcementMechanism } from "./enforcement.js";
import type { WorkQuota } from "./work-quota.js";

/**
 * Which of a replica's per-call limits the kernel enforces exactly, and which are degraded
 * stand-ins (ADR 0135). Served on `/limits`, exported as `insitu_sandbox_limit_degraded{limit}`, and
 * checked at start when `SANDBOX_REQUIRE_EXACT_LIMITS=1`.
 */
export const LimitName = {
  memory: "memory",
  pids: "pids",
  workDir: "work_dir",
  cpu: "cpu",
  fileSize: "file_size",
  wallTime: "wall_time",
} as const;
export type LimitName = (typeof LimitName)[keyof typeof LimitName];

export interface LimitState {
  enforcement: "exact" | "degraded";
  /** The mechanism, and what it does not cover. */
  by: string;
}

export interface LimitsReport {
  mechanism: EnforcementMechanism;
  /** Why this mechanism and not a stronger one. */
  reason: string;
  workStorage: "tmpfs" | "disk";
  uid: number | undefined;
  /** True when no limit is degraded. */
  exact: boolean;
  degraded: LimitName[];
  limits: Record<LimitName, LimitState>;
  /** Whether cgroup v2 is delegated to this process (what non-root exact limits need). */
  cgroupV2: { delegated: boolean; detail: string };
}

export interface LimitsReportInput {
  mechanism: EnforcementMechanism;
  reason: string;
  workStorage: "tmpfs" | "disk";
  uid: number | undefined;
  workQuota: WorkQuota;
  maxPids: number;
  maxUserProcesses: number | undefined;
  maxFileBytes: number;
  cgroupV2: { delegated: boolean; detail: string };
}

const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;

export function limitsReport(input: LimitsReportInput): LimitsReport {
  const cgroup = input.mechanism !== EnforcementMechanism.prlimit;
  const quota = `a ${mib(input.workQuota.maxBytes)} / ${input.workQuota.maxFiles}-file quota polled every ${input.workQuota.pollMs} ms`;
  const limits: Record<LimitName, LimitState> = {
    [LimitName.memory]: cgroup
      ? { enforcement: "exact", by: `${input.mechanism} memory limit per call (heap, buffers, tmpfs files)` }
      : {
          enforcement: "degraded",
          by: "RLIMIT_DATA per process: Deno's ~560 MiB address-space reservation plus the call's memory (a Worker reserves ~500 MiB more); counts reservations, not resident memory; page cache and files are not counted",
        },
    [LimitName.pids]: cgroup
      ? { enforcement: "exact", by: `${input.mechanism} pids.max ${input.maxPids} per call` }
      : {
          enforcement: "degraded",
          by:
            input.uid === 0
              ? "none per call: RLIMIT_NPROC is ignored for root; threads are bounded only by the memory cap"
              : `RLIMIT_NPROC ${input.maxUserProcesses ?? "unset"} for the whole user (shared by all calls and the service), not per call`,
        },
    [LimitName.workDir]:
      cgroup && input.workStorage === "tmpfs"
        ? { enforcement: "exact", by: `tmpfs files charged to the call's memory limit, plus ${quota}` }
        : {
            enforcement: "degraded",
            by: `${quota} (a tool may overshoot by one interval of writing) and RLIMIT_FSIZE per file; work dirs on disk`,
          },
    [LimitName.cpu]: { enforcement: "exact", by: "RLIMIT_CPU per process (all threads)" },
    [LimitName.fileSize]: { enforcement: "exact", by: `RLIMIT_FSIZE ${mib(input.maxFileBytes)} per file` },
    [LimitName.wallTime]: {
      enforcement: "exact",
      by: "the sandbox kills the process group at the call's timeout",
    },
  };
  const degraded = (Object.entries(limits) as [LimitName, LimitState][])
    .filter(([, state]) => state.enforcement === "degraded")
    .map(([key]) => key);
  return {
    mechanism: input.mechanism,
    reason: input.reason,
    workStorage: input.workStorage,
    uid: input.uid,
    exact: degraded.length === 0,
    degraded,
    limits,
    cgroupV2: input.cgroupV2,
  };
}

/**
 * Throws (a typed, non-retryable system error naming each degraded limit and the reason) when any
 * limit is degraded: what `SANDBOX_REQUIRE_EXACT_LIMITS=1` does at start.
 */
export function assertExactLimits(report: LimitsReport): void {
  if (report.exact) return;
  const details = report.degraded.map((limit) => `${limit}: ${report.limits[limit].by}`).join("; ");
  throw new InsituError(
    `SANDBOX_REQUIRE_EXACT_LIMITS is set but these limits are degraded (${report.mechanism}, work dirs on ${report.workStorage}): ${details}. Why not cgroups: ${report.reason}. cgroup v2: ${report.cgroupV2.detail}`,
    {
      code: "SANDBOX_LIMITS_DEGRADED",
      category: "system",
      retryable: false,
      details: { mechanism: report.mechanism, workStorage: report.workStorage, degraded: report.degraded },
    },
  );
}
