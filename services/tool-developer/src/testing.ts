import type { SignedTestReport } from "@insitu/contracts";
/** FAKE: a report shaped like the sandbox's signed one; unit tests here never reach a verifier. */
export const FAKE_REPORT: SignedTestReport = {
  payload: {
    kind: "insitu.test-report.v1",
    codeHash: `sha256:${"0".repeat(64)}`,
    testsHash: `sha256:${"0".repeat(64)}`,
    total: 1,
    passed: 1,
    failed: 0,
    time: "2026-01-01T00:00:00.000Z",
    keyId: "0000000000000000",
  },
  signature: "fake",
};
