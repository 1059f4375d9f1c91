import { endpoint } from "@insitu/bus";
import { createMemoryBus } from "@insitu/bus/testing";
import {
  type Payload,
  RegistryBindingGet,
  SandboxExec,
  type ToolVersionRecord,
  type VersionReview,
  generateSigningKey,
  signerFromPrivateKey,
} from "@insitu/contracts";
import { type ApprovalPolicyInput, computeCodeHash, parseApprovalPolicy } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { toolPorts } from "./adapters.js";

// Unit test on the in-memory bus (a labelled fake of NATS request-reply) with stub registry and
// sandbox endpoints: what secrets the executor asks the sandbox to grant for one tool version.
// The real stack runs the same check in test/security/approval-policy.test.ts.

const HASH = `sha256:${"a".repeat(64)}`;

function record(review?: VersionReview["state"]): ToolVersionRecord {
  return {
    hash: HASH,
    name: "fetch_weather",
    description: "Looks up the weather of a city.",
    status: review === "pending" ? "pending-review" : review === "rejected" ? "rejected" : "task-private",
    origin: "created",
    createdByTask: "task-1",
    parents: [],
    createdAt: new Date(0).toISOString(),
    ordinal: 1,
    usage: {
      calls: 0,
      byOutcome: {},
      successes: 0,
      successRate: 0,
      reuseCalls: 0,
      tasks: 0,
      meanLatencyMs: 0,
    },
    manifest: {
      name: "fetch_weather",
      description: "Looks up the weather of a city.",
      inputSchema: { type: "object", properties: {} },
      outputSchema: { type: "object" },
      permissions: { network: ["api.weather.example"], secrets: ["OPEN_KEY", "REVIEWED_KEY", "BANNED_KEY"] },
    },
    code: "export default () => ({})",
    tests: [],
    evidence: [],
    ...(review
      ? { review: { state: review, requestedAt: new Date(0).toISOString(), permissions: [], decisions: [] } }
      : {}),
  };
}

async function grantsFor(review: VersionReview["state"] | undefined, policy: ApprovalPolicyInput) {
  const bus = createMemoryBus();
  const seen: Payload<typeof SandboxExec>[] = [];
  await bus.serve({
    name: "stubs",
    version: "0.1.0",
    description: "stub registry and sandbox",
    endpoints: [
      endpoint(RegistryBindingGet, async () => {
        const { hash, name, status, manifest, code, review: reviewed } = record(review);
        const binding = { version: hash, name, status, manifest, codeHash: computeCodeHash(code) };
        return reviewed ? { ...binding, review: reviewed } : binding;
      }),
      endpoint(SandboxExec, async (request) => {
        seen.push(request);
        return { status: "ok" as const, output: {}, durationMs: 1 };
      }),
    ],
  });
  const parsed = parseApprovalPolicy(policy);
  if (!parsed.ok) throw new Error(parsed.issues.join("; "));
  const ports = toolPorts(bus, {
    sandboxTimeoutMs: 5000,
    repairTimeoutMs: 5000,
    approvalPolicy: parsed.policy,
    // exec does not record usage here; the signer is only required by the port's options.
    signer: signerFromPrivateKey(generateSigningKey().privateKey) as NonNullable<
      ReturnType<typeof signerFromPrivateKey>
    >,
  });
  const source = await ports.getTool({ name: "fetch_weather", version: HASH });
  await ports.exec(source, {}, "task-1");
  // The sandbox gets the tool by content address, never its code (ADR 0160).
  expect(seen[0]?.tool).toEqual({
    manifest: record().manifest,
    codeHash: computeCodeHash(record().code),
    version: HASH,
  });
  return seen[0]?.grantedSecrets;
}

const POLICY: ApprovalPolicyInput = {
  rules: [
    { permission: "secret:OPEN_KEY", decision: "auto" },
    { permission: "secret:BANNED_KEY", decision: "deny" },
  ],
};

describe("the executor's secret grants", () => {
  it("asks the sandbox for a reviewed secret only for an approved version, and never for a denied one", async () => {
    expect(await grantsFor(undefined, POLICY)).toEqual(["OPEN_KEY"]);
    expect(await grantsFor("pending", POLICY)).toEqual(["OPEN_KEY"]);
    expect(await grantsFor("rejected", POLICY)).toEqual(["OPEN_KEY"]);
    expect(await grantsFor("approved", POLICY)).toEqual(["OPEN_KEY", "REVIEWED_KEY"]);
  });

  it("grants every declared secret the policy leaves to `auto`", async () => {
    expect(await grantsFor(undefined, { defaults: { secret: "auto" } })).toEqual([
      "OPEN_KEY",
      "REVIEWED_KEY",
      "BANNED_KEY",
    ]);
  });
});
