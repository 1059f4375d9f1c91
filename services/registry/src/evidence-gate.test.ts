import type { Bus } from "@insitu/bus";
import { createMemoryBus } from "@insitu/bus/testing";
import {
  type Payload,
  RegistryList,
  RegistryRecordUsage,
  RegistryRegister,
  RegistryStats,
  type Signer,
  generateSigningKey,
  signTestReport,
  signUsageBatch,
  signerFromPrivateKey,
} from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { createLogger } from "@insitu/telemetry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EvidenceTrust } from "./evidence-gate.js";
import type { Registry } from "./registry.js";
import { registerRequest, serveRegistry, signedUsage, testKeys, testTrust } from "./testing.js";

// Unit tests on the in-memory bus (a fake of NATS KV / request-reply); real NATS and a real stack
// are in test/security/forged-evidence.test.ts.
const logger = createLogger({ service: "evidence-test", level: "error" });
const stranger = signerFromPrivateKey(generateSigningKey().privateKey) as Signer;

async function refusal(promise: Promise<unknown>): Promise<InsituError> {
  try {
    await promise;
  } catch (error) {
    return InsituError.from(error);
  }
  throw new Error("expected EVIDENCE_UNVERIFIED, got an answer");
}

describe("the registry admits versions and records usage only on verified evidence", () => {
  let bus: Bus;
  let registry: Registry;

  async function start(trust: EvidenceTrust | undefined) {
    bus = createMemoryBus();
    registry = await serveRegistry(bus, { logger, ...(trust ? { trust } : {}) });
  }
  async function poolSize(taskId: string): Promise<number> {
    return (await bus.request(RegistryList, { scope: "pool", taskId })).total;
  }

  beforeEach(() => start(testTrust));
  afterEach(() => registry.stop());

  it("admits a version whose signed report verifies, and records the verified run as evidence", async () => {
    const registered = await bus.request(RegistryRegister, registerRequest("t1", "say_hello", "Says hello."));
    expect(registered.created).toBe(true);
    const record = await registry.get({ by: "hash", hash: registered.hash });
    expect(record.evidence[0]).toMatchObject({ kind: "test-run", passed: 1, failed: 0 });
    expect(record.evidence[0]?.summary).toContain(`signed by key ${testKeys.sandbox.keyId}`);
  });

  const forgeries: [
    string,
    (request: Payload<typeof RegistryRegister>) => Payload<typeof RegistryRegister>,
  ][] = [
    ["missing", ({ testReport: _dropped, ...request }) => request],
    [
      "unknown-key",
      (request) => ({ ...request, testReport: signTestReport(stranger, request, { total: 1, passed: 1 }) }),
    ],
    [
      "bad-signature",
      (request) => ({
        ...request,
        testReport: {
          ...request.testReport!,
          payload: { ...request.testReport!.payload, passed: 2, total: 2 },
        },
      }),
    ],
    ["other-code", (request) => ({ ...request, code: `${request.code}\n// a backdoor\n` })],
    [
      "other-code",
      (request) => ({ ...request, manifest: { ...request.manifest, description: "Says hello, and more." } }),
    ],
    [
      "other-tests",
      (request) => ({ ...request, tests: [...request.tests, { ...request.tests[0]!, name: "another" }] }),
    ],
    [
      "not-passed",
      (request) => ({
        ...request,
        testReport: signTestReport(testKeys.sandbox, request, { total: 1, passed: 0 }),
      }),
    ],
  ];
  for (const [problem, forge] of forgeries) {
    it(`refuses a version with EVIDENCE_UNVERIFIED (${problem}) and writes nothing`, async () => {
      const error = await refusal(
        bus.request(RegistryRegister, forge(registerRequest("t1", "say_hello", "Says hello."))),
      );
      expect(error.code).toBe("EVIDENCE_UNVERIFIED");
      expect(error.details.problem).toBe(problem);
      expect(await poolSize("t1")).toBe(0);
      expect(registry.view.versions.size).toBe(0);
    });
  }

  it("refuses usage that is unsigned, signed by another key or signed over other calls; records none", async () => {
    const tool = await bus.request(RegistryRegister, registerRequest("t1", "say_hello", "Says hello."));
    const calls = [
      { callId: "c1", taskId: "t1", hash: tool.hash, outcome: "success" as const, latencyMs: 3 },
    ];
    const failed = [{ ...calls[0]!, outcome: "execution-failure" as const }];
    const cases: [string, Payload<typeof RegistryRecordUsage>][] = [
      ["missing", { calls }],
      ["unknown-key", { calls, signature: signUsageBatch(stranger, calls) }],
      // A real executor batch reporting a failure, replayed with the outcome flipped to success.
      ["other-calls", { calls, signature: signUsageBatch(testKeys.executor, failed) }],
      // The sandbox's key is trusted for test reports, not for usage.
      ["unknown-key", { calls, signature: signUsageBatch(testKeys.sandbox, calls) }],
    ];
    for (const [problem, request] of cases) {
      const error = await refusal(bus.request(RegistryRecordUsage, request));
      expect([error.code, error.details.problem]).toEqual(["EVIDENCE_UNVERIFIED", problem]);
    }
    expect((await bus.request(RegistryStats, {})).global.toolCalls).toBe(0);
    expect(await bus.request(RegistryRecordUsage, signedUsage(calls))).toMatchObject({ recorded: 1 });
    expect((await bus.request(RegistryStats, {})).global.toolCalls).toBe(1);
  });

  it("a registry given no trusted keys admits nothing and records nothing (fails closed)", async () => {
    registry.stop();
    await start(undefined);
    const error = await refusal(
      bus.request(RegistryRegister, registerRequest("t1", "say_hello", "Says hello.")),
    );
    expect([error.code, error.details.problem]).toEqual(["EVIDENCE_UNVERIFIED", "unknown-key"]);
    expect(registry.view.versions.size).toBe(0);
  });
});
