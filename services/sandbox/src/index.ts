export { Admission } from "./admission.js";
export { classifyRun, cleanText, findPermission, trimStack } from "./classify.js";
export { resolveDenoBinary } from "./deno-binary.js";
export { EnforcementMechanism, cgroupV2Delegation, detectEnforcement } from "./enforcement.js";
export { LimitName, assertExactLimits, limitsReport } from "./limits-report.js";
export type { LimitState, LimitsReport } from "./limits-report.js";
export { DEFAULT_WORK_QUOTA, measureWorkDir, watchWorkDir } from "./work-quota.js";
export type { WorkQuota, WorkUsage } from "./work-quota.js";
export type { CallGroup, Enforcement } from "./enforcement.js";
export { parseBoundedJson, scanFrames } from "./frame.js";
export {
  INTERNAL_RANGES_V4,
  INTERNAL_RANGES_V6,
  computeGrant,
  defaultPolicy,
  denyList,
  effectiveLimits,
} from "./policy.js";
export type { Grant, SandboxPolicy } from "./policy.js";
export { ProcessSlot, profileKey, prlimitArgs } from "./process-slot.js";
export type { ProcessProfile, RawRun } from "./process-slot.js";
export {
  RUNNER_PATH,
  Sandbox,
  VENDOR_DIR,
  toModuleUrl,
  vettedLibraries,
  vettedSpecifiers,
} from "./sandbox.js";
export type { ExecPhases, ExecRequest, SandboxOptions, TestReport, TestRequest } from "./sandbox.js";
export { Checker, parseDenoDiagnostics, scanImports } from "./check.js";
export type { CheckResult, Diagnostic } from "./check.js";
export { SandboxConfigSchema, buildPolicy, forcedMechanism } from "./config.js";
export type { SandboxConfig } from "./config.js";
export { createHandlers } from "./handlers.js";
export type { SandboxHandlers } from "./handlers.js";
export { registerSandboxMetrics } from "./metrics.js";
export { settleDisposals } from "./process-slot.js";
