import {
  type Payload,
  type RegistryRecordUsage,
  type RegistryRegister,
  type Signer,
  type UsageRecord,
  generateSigningKey,
  signTestReport,
  signUsageBatch,
  signerFromPrivateKey,
  trustedKeysFrom,
} from "@insitu/contracts";
import type { Bus } from "@insitu/bus";
import { InsituError } from "@insitu/errors";
import { createLogger } from "@insitu/telemetry";
import type { ToolManifest } from "@insitu/tool-kit";
import { registryEndpoints } from "./endpoints.js";
import type { EvidenceTrust } from "./evidence-gate.js";
import { Registry, type RegistryOptions } from "./registry.js";

function testSigner(): Signer {
  return signerFromPrivateKey(generateSigningKey().privateKey) as Signer;
}

/**
 * Keys for registry tests (real Ed25519 keys made per test process): the sandbox's signs the test
 * reports of {@link registerRequest}, the executor's the batches of {@link signedUsage};
 * {@link testTrust} is what a registry under test should be opened with.
 */
export const testKeys = { sandbox: testSigner(), executor: testSigner() } as const;
export const testTrust: EvidenceTrust = {
  sandbox: trustedKeysFrom(testKeys.sandbox.publicKey)!,
  usage: trustedKeysFrom(testKeys.executor.publicKey)!,
};

/** A record-usage request signed with the test executor key. */
export function signedUsage(calls: UsageRecord[]): Payload<typeof RegistryRecordUsage> {
  return { calls, signature: signUsageBatch(testKeys.executor, calls) };
}

/**
 * A registrable tool version for tests: a real, valid module (not a fake) whose description and
 * parameters are given, so retrieval tests can ask for it by meaning.
 */
export function toolSource(
  name: string,
  description: string,
  parameters: string[] = ["text"],
  variant = "",
): { manifest: ToolManifest; code: string; tests: Payload<typeof RegistryRegister>["tests"] } {
  const manifest: ToolManifest = {
    name,
    description,
    inputSchema: {
      type: "object",
      properties: Object.fromEntries(parameters.map((parameter) => [parameter, { type: "string" }])),
      required: parameters,
      additionalProperties: false,
    },
    outputSchema: { type: "object", properties: { result: { type: "string" } }, required: ["result"] },
    permissions: { network: [], secrets: [] },
  };
  const code = `export const manifest = ${JSON.stringify(manifest, null, 2)};

export default async function run(input: Record<string, string>): Promise<{ result: string }> {
  // ${variant || "first version"}
  return { result: Object.values(input).join(" ") };
}
`;
  const tests = [
    {
      name: "echoes",
      input: Object.fromEntries(parameters.map((p) => [p, "x"])),
      expect: { outcome: "ok" as const },
    },
  ];
  return { manifest, code, tests };
}

/**
 * A register request for {@link toolSource}, with the evidence a passing test run gives: the test
 * sandbox key's signed report (a real signature; no sandbox ran the tests).
 */
export function registerRequest(
  taskId: string,
  name: string,
  description: string,
  options: { parameters?: string[]; variant?: string; parents?: string[] } = {},
): Payload<typeof RegistryRegister> {
  const request: Payload<typeof RegistryRegister> = {
    taskId,
    ...toolSource(name, description, options.parameters, options.variant),
    evidence: [
      { kind: "test-run", summary: "1/1 tests passed", passed: 1, failed: 0, time: new Date().toISOString() },
    ],
  };
  if (options.parents) request.parents = options.parents;
  return withTestReport(request);
}

/** The request with the test sandbox key's report of its (edited) code, manifest and tests all passing. */
export function withTestReport(request: Payload<typeof RegistryRegister>): Payload<typeof RegistryRegister> {
  return {
    ...request,
    testReport: signTestReport(testKeys.sandbox, request, {
      total: request.tests.length,
      passed: request.tests.length,
    }),
  };
}

export {
  loadQualityLibrary,
  loadQualitySet,
  measureRecall,
  padTools,
  splitQuestions,
} from "./quality-set.js";
export type { QualityQuestion, QualityTool, RecallReport } from "./quality-set.js";

/** The typed error a request was refused with (fails the test when it was not refused). */
export async function rejection(promise: Promise<unknown>): Promise<InsituError> {
  try {
    await promise;
  } catch (error) {
    return InsituError.from(error);
  }
  throw new Error("expected a rejection");
}

/**
 * A registry opened on `bus` and serving its endpoints there, as the service does. Options as
 * `Registry.open`'s; by default trusting {@link testTrust} and logging errors only.
 */
export async function serveRegistry(
  bus: Bus,
  options: Partial<RegistryOptions> = { trust: testTrust },
): Promise<Registry> {
  const registry = await Registry.open(bus, {
    logger: createLogger({ service: "registry-test", level: "error" }),
    ...options,
  });
  await bus.serve({
    name: "registry",
    version: "0.1.0",
    description: "registry under test",
    endpoints: registryEndpoints(registry),
  });
  return registry;
}
