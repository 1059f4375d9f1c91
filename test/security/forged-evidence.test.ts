/**
 * Forged evidence on the bus (issue 11 point 4, ADR 0125). A process that reaches the bus — no
 * keys of its own — tries to get a tool admitted on a test report it made up, and to mark calls
 * successful. Real nats-server, real registry and real Deno sandbox processes from the stack
 * harness; the stack's keys are generated per run, and the forger never holds a private key of it.
 */
import { type Bus, connectBus } from "@insitu/bus";
import {
  type Payload,
  RegistryErrorCode,
  RegistryHistory,
  RegistryList,
  RegistryRecordUsage,
  RegistryRegister,
  RegistrySnapshots,
  RegistryStats,
  SandboxTest,
  type SignedTestReport,
  type Signer,
  generateSigningKey,
  signTestReport,
  signUsageBatch,
  signerFromPrivateKey,
} from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executorUsage } from "../harness/evidence.js";
import { type Stack, startStack } from "../harness/stack.js";

let stack: Stack;
let bus: Bus;
const forger = signerFromPrivateKey(generateSigningKey().privateKey) as Signer;

beforeAll(async () => {
  stack = await startStack({
    services: ["registry", "sandbox"],
    env: { LOG_LEVEL: "warn", REGISTRY_EMBEDDINGS: "off" },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "forger" });
}, 90_000);

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
});

function tool(name: string, body: string): Payload<typeof RegistryRegister> {
  const manifest = {
    name,
    description: `Adds two numbers (${name}).`,
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
      additionalProperties: false,
    },
    outputSchema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] },
    permissions: { network: [], secrets: [] },
  };
  return {
    taskId: `forged-${name}`,
    manifest,
    code: `export const manifest = ${JSON.stringify(manifest, null, 2)};\n\nexport default async function run(input: { a: number; b: number }): Promise<{ sum: number }> {\n  ${body}\n}\n`,
    tests: [
      { name: "adds", input: { a: 2, b: 3 }, expect: { equals: { sum: 5 } } },
      { name: "negative", input: { a: -2, b: 1 }, expect: { equals: { sum: -1 } } },
    ],
    evidence: [
      {
        kind: "test-run",
        summary: "2/2 tests passed (so it says)",
        passed: 2,
        failed: 0,
        time: new Date().toISOString(),
      },
    ],
  };
}

/** What the real sandbox signs for a source (the forger may ask the sandbox too; it has no key). */
async function sandboxReport(request: Payload<typeof RegistryRegister>): Promise<SignedTestReport> {
  const run = await bus.request(
    SandboxTest,
    { tool: { code: request.code, manifest: request.manifest }, tests: request.tests },
    { timeoutMs: 60_000 },
  );
  return run.report;
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; problem: unknown }> {
  try {
    await promise;
  } catch (error) {
    const failure = InsituError.from(error);
    return { code: failure.code, problem: failure.details.problem };
  }
  return { code: "ADMITTED", problem: undefined };
}

async function libraryState() {
  const snapshots = await bus.request(RegistrySnapshots, { limit: 1 });
  const offered = await bus.request(RegistryList, { scope: "status", status: "task-private" });
  const stats = await bus.request(RegistryStats, {});
  return {
    snapshot: snapshots.current,
    privateVersions: offered.total,
    toolCalls: stats.global.toolCalls,
    calls: stats.global.callsByOutcome,
  };
}

describe("forged evidence from a process on the bus", () => {
  it("refuses every forged test report and keeps the library unchanged", async () => {
    const honest = tool("add_numbers", "return { sum: input.a + input.b };");
    // A backdoored build whose tests fail in the sandbox (it exfiltrates instead of adding).
    const evil = tool("add_numbers_evil", "return { sum: 0 };");
    const genuine = await sandboxReport(honest);
    expect(genuine.payload).toMatchObject({ total: 2, passed: 2, failed: 0 });
    const evilRun = await sandboxReport(evil);
    expect(evilRun.payload).toMatchObject({ total: 2, passed: 0, failed: 2 });
    const before = await libraryState();

    const claimed = signTestReport(forger, evil, { total: 2, passed: 2 });
    claimed.payload.keyId = genuine.payload.keyId;
    const attempts: [string, Payload<typeof RegistryRegister>][] = [
      // No report at all: the caller's own `evidence` lines claim 2/2.
      ["missing", evil],
      // A report the forger signed with a key of its own.
      ["unknown-key", { ...evil, testReport: signTestReport(forger, evil, { total: 2, passed: 2 }) }],
      // The same, claiming the sandbox's key id.
      ["bad-signature", { ...evil, testReport: claimed }],
      // The sandbox's real report of the failing run, with its counts edited to "all passed".
      [
        "bad-signature",
        { ...evil, testReport: { ...evilRun, payload: { ...evilRun.payload, passed: 2, failed: 0 } } },
      ],
      // A genuine passing report (of the honest build, e.g. seen on the bus) replayed for other code.
      ["other-code", { ...evil, testReport: genuine }],
      // The honest code under another manifest (wider permissions would ride on it the same way).
      [
        "other-code",
        {
          ...honest,
          manifest: { ...honest.manifest, permissions: { network: ["evil.example"], secrets: [] } },
          testReport: genuine,
        },
      ],
      // The honest code with its tests swapped for ones it never ran.
      ["other-tests", { ...honest, tests: [honest.tests[0]!], testReport: genuine }],
      // The sandbox's real, correctly signed report of the evil build's failing run.
      ["not-passed", { ...evil, testReport: evilRun }],
    ];
    for (const [problem, request] of attempts) {
      expect({ attempt: problem, ...(await refusal(bus.request(RegistryRegister, request))) }).toEqual({
        attempt: problem,
        code: RegistryErrorCode.evidenceUnverified,
        problem,
      });
    }
    expect(await libraryState()).toEqual(before);
    for (const name of ["add_numbers", "add_numbers_evil"]) {
      const history = await bus.request(RegistryHistory, { name }).catch((error: unknown) => error);
      expect(history instanceof Error ? InsituError.from(history).code : history).toBe("NOT_FOUND");
    }

    // The control: the honest build with the sandbox's report of it is admitted.
    const admitted = await bus.request(RegistryRegister, { ...honest, testReport: genuine });
    expect(admitted.created).toBe(true);
  });

  it("refuses forged usage outcomes and records none of them", async () => {
    const honest = tool("add_more_numbers", "return { sum: input.a + input.b };");
    const registered = await bus.request(RegistryRegister, {
      ...honest,
      testReport: await sandboxReport(honest),
    });
    const calls = [
      {
        callId: "forged-1",
        taskId: honest.taskId,
        hash: registered.hash,
        outcome: "success" as const,
        latencyMs: 4,
      },
    ];
    // What the executor really recorded for another call: a failure (the forger saw it on the bus).
    const real = executorUsage(stack, [{ ...calls[0]!, callId: "real-1", outcome: "execution-failure" }]);
    await bus.request(RegistryRecordUsage, real);
    const before = await libraryState();

    const attempts: [string, Payload<typeof RegistryRecordUsage>][] = [
      ["missing", { calls }],
      ["unknown-key", { calls, signature: signUsageBatch(forger, calls) }],
      // The executor's real batch replayed with the outcome flipped to success.
      ["other-calls", { calls: [{ ...real.calls[0]!, outcome: "success" }], signature: real.signature }],
      // The executor's real signature over other calls.
      ["other-calls", { calls, signature: real.signature }],
    ];
    for (const [problem, request] of attempts) {
      expect({ attempt: problem, ...(await refusal(bus.request(RegistryRecordUsage, request))) }).toEqual({
        attempt: problem,
        code: RegistryErrorCode.evidenceUnverified,
        problem,
      });
    }
    expect(await libraryState()).toEqual(before);
    expect(before.calls).toEqual({ "execution-failure": 1 });
  });
});
