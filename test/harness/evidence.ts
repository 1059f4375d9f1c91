import type { Bus } from "@insitu/bus";
import {
  type Payload,
  type RegistryRecordUsage,
  type RegistryRegister,
  SandboxTest,
  type Signer,
  type UsageRecord,
  signUsageBatch,
  signerFromPrivateKey,
} from "@insitu/contracts";
import type { Stack } from "./stack.js";

/**
 * Evidence for tests that seed the registry over the bus (ADR 0125): the stack's real sandbox
 * runs the tests and signs the report (so the seeded tests must pass), and usage is signed with
 * the stack's executor key (the test stands in for the executor).
 */
export async function withSandboxReport(
  bus: Bus,
  request: Payload<typeof RegistryRegister>,
): Promise<Payload<typeof RegistryRegister>> {
  const run = await bus.request(
    SandboxTest,
    { tool: { code: request.code, manifest: request.manifest }, tests: request.tests },
    { timeoutMs: 60_000 },
  );
  if (!run.passed) {
    throw new Error(`seeded tool ${request.manifest.name} fails its tests: ${JSON.stringify(run.results)}`);
  }
  return { ...request, testReport: run.report };
}

/** The stack's executor key, for tests that record usage as the executor would. */
export function executorSigner(stack: Stack): Signer {
  return signerFromPrivateKey(stack.signingKeys.executor.privateKey) as Signer;
}

/** A record-usage request signed with the stack's executor key. */
export function executorUsage(stack: Stack, calls: UsageRecord[]): Payload<typeof RegistryRecordUsage> {
  return { calls, signature: signUsageBatch(executorSigner(stack), calls) };
}
