import { describe, expect, it } from "vitest";
import {
  generateSigningKey,
  signTestReport,
  signUsageBatch,
  signerFromPrivateKey,
  signingKeyConfig,
  trustedKeysFrom,
  verifyTestReport,
  verifyUsageBatch,
  type Signer,
} from "./attestation.js";

const source = {
  code: "export default async function run() { return { ok: true }; }",
  manifest: { name: "say_ok", description: "Says ok." },
  tests: [{ name: "ok", input: {}, expect: { outcome: "ok" } }],
};

function keys(): { signer: Signer; publicKey: string } {
  const pair = generateSigningKey();
  return { signer: signerFromPrivateKey(pair.privateKey) as Signer, publicKey: pair.publicKey };
}

describe("signed test reports", () => {
  const sandbox = keys();
  const trusted = trustedKeysFrom(sandbox.publicKey)!;

  it("verifies a passing report for exactly this code, manifest and tests", () => {
    const report = signTestReport(sandbox.signer, source, { total: 1, passed: 1 });
    expect(verifyTestReport(report, source, trusted)).toEqual({ ok: true, keyId: sandbox.signer.keyId });
    // A report survives the wire (JSON) unchanged.
    expect(verifyTestReport(JSON.parse(JSON.stringify(report)), source, trusted).ok).toBe(true);
  });

  it("refuses each way a report can be wrong, naming the problem", () => {
    const report = signTestReport(sandbox.signer, source, { total: 1, passed: 1 });
    const problem = (verdict: ReturnType<typeof verifyTestReport>) => (verdict.ok ? "ok" : verdict.problem);
    expect(problem(verifyTestReport(undefined, source, trusted))).toBe("missing");
    const stranger = keys();
    expect(
      problem(
        verifyTestReport(signTestReport(stranger.signer, source, { total: 1, passed: 1 }), source, trusted),
      ),
    ).toBe("unknown-key");
    // The stranger claims the trusted key's id: the signature gives it away.
    const claimed = signTestReport(stranger.signer, source, { total: 1, passed: 1 });
    claimed.payload.keyId = sandbox.signer.keyId;
    expect(problem(verifyTestReport(claimed, source, trusted))).toBe("bad-signature");
    const inflated = { ...report, payload: { ...report.payload, total: 5, passed: 5 } };
    expect(problem(verifyTestReport(inflated, source, trusted))).toBe("bad-signature");
    expect(problem(verifyTestReport(report, { ...source, code: `${source.code}\n// other` }, trusted))).toBe(
      "other-code",
    );
    expect(
      problem(
        verifyTestReport(report, { ...source, manifest: { ...source.manifest, name: "say_no" } }, trusted),
      ),
    ).toBe("other-code");
    expect(
      problem(verifyTestReport(report, { ...source, tests: [...source.tests, ...source.tests] }, trusted)),
    ).toBe("other-tests");
    const failing = signTestReport(sandbox.signer, source, { total: 1, passed: 0 });
    expect(problem(verifyTestReport(failing, source, trusted))).toBe("not-passed");
    const empty = signTestReport(sandbox.signer, { ...source, tests: [] }, { total: 0, passed: 0 });
    expect(problem(verifyTestReport(empty, { ...source, tests: [] }, trusted))).toBe("not-passed");
  });

  it("trusts every key of a list (rotation) and nothing else", () => {
    const next = keys();
    const both = trustedKeysFrom(`${sandbox.publicKey}, ${next.publicKey}`)!;
    expect(both.size).toBe(2);
    expect(
      verifyTestReport(signTestReport(next.signer, source, { total: 1, passed: 1 }), source, both).ok,
    ).toBe(true);
    expect(trustedKeysFrom("")).toBeUndefined();
    expect(trustedKeysFrom(`${sandbox.publicKey},not-a-key`)).toBeUndefined();
  });
});

describe("signed usage batches", () => {
  const executor = keys();
  const trusted = trustedKeysFrom(executor.publicKey)!;
  const calls = [{ callId: "c1", taskId: "t1", outcome: "success", latencyMs: 3 }];

  it("verifies the calls signed and refuses others", () => {
    const signature = signUsageBatch(executor.signer, calls);
    expect(verifyUsageBatch(signature, calls, trusted).ok).toBe(true);
    const flipped = [{ ...calls[0], outcome: "execution-failure" }];
    expect(verifyUsageBatch(signature, flipped, trusted)).toMatchObject({
      ok: false,
      problem: "other-calls",
    });
    expect(verifyUsageBatch(undefined, calls, trusted)).toMatchObject({ ok: false, problem: "missing" });
    expect(verifyUsageBatch(signUsageBatch(keys().signer, calls), calls, trusted)).toMatchObject({
      ok: false,
      problem: "unknown-key",
    });
  });
});

describe("key config", () => {
  it("names the variable when the key is missing or malformed, and never echoes it", () => {
    const schema = signingKeyConfig("SANDBOX_SIGNING_KEY", "the sandbox");
    const missing = schema.safeParse(undefined);
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]?.message).toContain("SANDBOX_SIGNING_KEY");
    const malformed = schema.safeParse("abc");
    expect(malformed.error?.issues[0]?.message).toContain("SANDBOX_SIGNING_KEY");
    expect(malformed.error?.issues[0]?.message).not.toContain("abc");
    const pair = generateSigningKey();
    expect(schema.parse(pair.privateKey).keyId).toBe(pair.keyId);
  });
});
