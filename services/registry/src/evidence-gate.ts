import {
  type Evidence,
  type Payload,
  type RegistryRecordUsage,
  type RegistryRegister,
  RegistryErrorCode,
  type TrustedKeys,
  type Verdict,
  verifyTestReport,
  verifyUsageBatch,
} from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";

/** The keys the registry believes (ADR 0125): the sandbox's for test reports, the executor's and the gateway's for usage. */
export interface EvidenceTrust {
  sandbox: TrustedKeys;
  usage: TrustedKeys;
}

function refuse(
  what: string,
  verdict: Extract<Verdict, { ok: false }>,
  details: Record<string, unknown>,
): never {
  throw new InsituError(`${what}: ${verdict.message}`, {
    code: RegistryErrorCode.evidenceUnverified,
    category: ErrorCategory.user,
    details: { problem: verdict.problem, ...details },
  });
}

/**
 * Admits a version only with the sandbox's signed report of its very code, manifest and tests all
 * passing; answers the evidence entry the registry writes for it. Without trusted keys nothing is
 * admitted (fail closed).
 */
export function checkTestEvidence(
  request: Payload<typeof RegistryRegister>,
  trust: EvidenceTrust | undefined,
): Evidence {
  const verdict = verifyTestReport(request.testReport, request, trust?.sandbox ?? new Map());
  if (!verdict.ok) {
    refuse("test evidence refused", verdict, { name: request.manifest.name, taskId: request.taskId });
  }
  const payload = request.testReport!.payload;
  return {
    kind: "test-run",
    summary: `verified: ${payload.passed}/${payload.total} tests passed in the sandbox (report signed by key ${payload.keyId} at ${payload.time})`,
    passed: payload.passed,
    failed: payload.failed,
    time: payload.time,
  };
}

/** Records usage only when the batch is signed by a trusted executor or gateway key. */
export function checkUsageEvidence(
  request: Payload<typeof RegistryRecordUsage>,
  trust: EvidenceTrust | undefined,
): void {
  const verdict = verifyUsageBatch(request.signature, request.calls, trust?.usage ?? new Map());
  if (!verdict.ok) refuse("usage outcomes refused", verdict, { calls: request.calls.length });
}
