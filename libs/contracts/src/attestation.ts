// Signed evidence (ADR 0125): the sandbox signs every test report it produces and the executor (and
// the gateway, for MCP calls) signs every batch of usage outcomes it records. The registry admits a
// version only with a sandbox report that verifies for exactly that code and those tests, and
// records outcomes only from a trusted usage key. Ed25519 through node:crypto: no dependency.
import {
  type KeyObject,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from "node:crypto";
import { canonicalJson } from "@insitu/tool-kit";
import { z } from "zod";
import { ContentHash } from "./envelope.js";

/** Environment variable names of the keys (one place, so errors and deploy files agree). */
export const SigningKeyEnv = {
  /** The sandbox's private key: signs test reports. */
  sandbox: "SANDBOX_SIGNING_KEY",
  /** The executor's private key: signs the usage outcomes of its tool calls. */
  executor: "EXECUTOR_SIGNING_KEY",
  /** The gateway's private key: signs the usage outcomes of MCP clients' calls. */
  gateway: "GATEWAY_SIGNING_KEY",
  /** Public keys whose test reports are trusted (comma-separated): the registry's and the evolver's. */
  trustedSandbox: "TRUSTED_SANDBOX_KEYS",
  /** Public keys whose usage batches are trusted (comma-separated): the registry's. */
  trustedUsage: "TRUSTED_USAGE_KEYS",
} as const;

/** Why a piece of evidence was refused (`details.problem` of `EVIDENCE_UNVERIFIED`). */
export const EvidenceProblem = {
  /** No signed report or batch signature came with the request. */
  missing: "missing",
  /** Signed with a key the verifier does not trust. */
  unknownKey: "unknown-key",
  /** The signature does not verify (forged, or the payload was altered). */
  badSignature: "bad-signature",
  /** A valid report, but about other code (or another manifest), or a batch about other calls. */
  otherCode: "other-code",
  /** A valid report about this code, but about other tests. */
  otherTests: "other-tests",
  /** A valid report for this version whose tests did not all pass. */
  notPassed: "not-passed",
  /** A valid usage signature, but over other calls than those sent. */
  otherCalls: "other-calls",
} as const;
export type EvidenceProblem = (typeof EvidenceProblem)[keyof typeof EvidenceProblem];

/** The error code a refused piece of evidence is answered with. */
export const EVIDENCE_UNVERIFIED = "EVIDENCE_UNVERIFIED";

const KeyId = z.string().regex(/^[0-9a-f]{16}$/);
const Signature = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/);

/** What the sandbox signs about one test run. */
export const TestReportPayloadSchema = z
  .object({
    kind: z.literal("insitu.test-report.v1"),
    /** {@link toolCodeHash} of the module and manifest that were run. */
    codeHash: ContentHash,
    /** {@link toolTestsHash} of the test cases that were run. */
    testsHash: ContentHash,
    total: z.number().int().min(0),
    passed: z.number().int().min(0),
    failed: z.number().int().min(0),
    /** ISO-8601 time the run ended. */
    time: z.string().max(40),
    /** {@link keyIdOf} the signing key. */
    keyId: KeyId,
  })
  .strict();
export type TestReportPayload = z.infer<typeof TestReportPayloadSchema>;

export const SignedTestReportSchema = z
  .object({ payload: TestReportPayloadSchema, signature: Signature })
  .strict();
export type SignedTestReport = z.infer<typeof SignedTestReportSchema>;

/** What the executor (or gateway) signs about one batch of usage records. */
export const UsageBatchPayloadSchema = z
  .object({
    kind: z.literal("insitu.usage-batch.v1"),
    /** {@link usageCallsHash} of the batch's `calls`, as sent. */
    callsHash: ContentHash,
    count: z.number().int().min(0),
    time: z.string().max(40),
    keyId: KeyId,
  })
  .strict();
export type UsageBatchPayload = z.infer<typeof UsageBatchPayloadSchema>;

export const SignedUsageBatchSchema = z
  .object({ payload: UsageBatchPayloadSchema, signature: Signature })
  .strict();
export type SignedUsageBatch = z.infer<typeof SignedUsageBatchSchema>;

function sha256(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}

/** Hash of what runs: the module and its manifest (canonical JSON, as the content hash spells it). */
export function toolCodeHash(source: { code: string; manifest: unknown }): string {
  return sha256(canonicalJson({ code: source.code, manifest: source.manifest }));
}

/** Hash of the test cases, in order. */
export function toolTestsHash(tests: readonly unknown[]): string {
  return sha256(canonicalJson(tests));
}

/** Hash of a usage batch's calls, in order. */
export function usageCallsHash(calls: readonly unknown[]): string {
  return sha256(canonicalJson(calls));
}

// Ed25519 keys travel as base64url of their raw 32 bytes; node:crypto takes DER, so the fixed
// PKCS#8 / SPKI prefixes for Ed25519 are put in front.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function rawKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9_+/-]{43}=?$/.test(trimmed)) return undefined;
  const bytes = Buffer.from(trimmed.replace(/\+/g, "-").replace(/\//g, "_").replace(/=$/, ""), "base64url");
  return bytes.length === 32 ? bytes : undefined;
}

/** Short fingerprint of a public key: the first 16 hex digits of sha256 over its raw bytes. */
export function keyIdOf(publicKey: string): string {
  const raw = rawKey(publicKey);
  if (!raw) throw new TypeError("not an Ed25519 public key (base64url of 32 bytes)");
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

/** A private key ready to sign with. */
export interface Signer {
  readonly keyId: string;
  /** base64url of the raw public key (what verifiers are configured with). */
  readonly publicKey: string;
  sign(message: string): string;
}

/** Reads a private key (base64url of the 32-byte Ed25519 seed); undefined when it is not one. */
export function signerFromPrivateKey(text: string): Signer | undefined {
  const seed = rawKey(text);
  if (!seed) return undefined;
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  const publicKey = Buffer.from(spki.subarray(SPKI_PREFIX.length)).toString("base64url");
  return {
    keyId: keyIdOf(publicKey),
    publicKey,
    sign: (message) => sign(null, Buffer.from(message), key).toString("base64url"),
  };
}

/** Public keys a verifier trusts, by key id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

/** Reads a comma-separated list of public keys; undefined when any entry is not one (or none is given). */
export function trustedKeysFrom(text: string): TrustedKeys | undefined {
  const keys = new Map<string, KeyObject>();
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) return undefined;
  for (const entry of entries) {
    const raw = rawKey(entry);
    if (!raw) return undefined;
    keys.set(
      keyIdOf(entry),
      createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" }),
    );
  }
  return keys;
}

/** A new Ed25519 key pair in the form the environment variables take. */
export function generateSigningKey(): { privateKey: string; publicKey: string; keyId: string } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const seed = Buffer.from(der.subarray(PKCS8_PREFIX.length)).toString("base64url");
  const signer = signerFromPrivateKey(seed) as Signer;
  return { privateKey: seed, publicKey: signer.publicKey, keyId: signer.keyId };
}

/** Config field for a service's own private key: required, named in the error, never echoed. */
export function signingKeyConfig(variable: string, role: string) {
  const hint = `${role}'s Ed25519 private key (base64url, 32 bytes) is required: set ${variable} (\`insitu keys\` prints a set)`;
  return z
    .string({ error: hint })
    .refine((value) => signerFromPrivateKey(value) !== undefined, { error: hint })
    .transform((value) => signerFromPrivateKey(value) as Signer);
}

/** Config field for a list of trusted public keys: required, named in the error. */
export function trustedKeysConfig(variable: string, what: string) {
  const hint = `the public keys of ${what} are required: set ${variable} (comma-separated base64url Ed25519 public keys; \`insitu keys\` prints a set)`;
  return z
    .string({ error: hint })
    .refine((value) => trustedKeysFrom(value) !== undefined, { error: hint })
    .transform((value) => trustedKeysFrom(value) as TrustedKeys);
}

/** Signs the result of a test run of `source` (the sandbox does this, and only it holds the key). */
export function signTestReport(
  signer: Signer,
  source: { code: string; manifest: unknown; tests: readonly unknown[] },
  counts: { total: number; passed: number },
  now: Date = new Date(),
): SignedTestReport {
  const payload: TestReportPayload = {
    kind: "insitu.test-report.v1",
    codeHash: toolCodeHash(source),
    testsHash: toolTestsHash(source.tests),
    total: counts.total,
    passed: counts.passed,
    failed: counts.total - counts.passed,
    time: now.toISOString(),
    keyId: signer.keyId,
  };
  return { payload, signature: signer.sign(canonicalJson(payload)) };
}

/** Signs a batch of usage records as they will be sent. */
export function signUsageBatch(
  signer: Signer,
  calls: readonly unknown[],
  now: Date = new Date(),
): SignedUsageBatch {
  const payload: UsageBatchPayload = {
    kind: "insitu.usage-batch.v1",
    callsHash: usageCallsHash(calls),
    count: calls.length,
    time: now.toISOString(),
    keyId: signer.keyId,
  };
  return { payload, signature: signer.sign(canonicalJson(payload)) };
}

export type Verdict = { ok: true; keyId: string } | { ok: false; problem: EvidenceProblem; message: string };

function checkSignature(
  signed: { payload: { keyId: string }; signature: string } | undefined,
  trusted: TrustedKeys,
): Verdict {
  if (!signed) return { ok: false, problem: "missing", message: "no signed evidence came with the request" };
  const key = trusted.get(signed.payload.keyId);
  if (!key) {
    return {
      ok: false,
      problem: "unknown-key",
      message: `signed with key ${signed.payload.keyId}, which is not trusted`,
    };
  }
  let valid = false;
  try {
    valid = verify(
      null,
      Buffer.from(canonicalJson(signed.payload)),
      key,
      Buffer.from(signed.signature, "base64url"),
    );
  } catch {
    valid = false;
  }
  return valid
    ? { ok: true, keyId: signed.payload.keyId }
    : {
        ok: false,
        problem: "bad-signature",
        message: `the signature does not verify with key ${signed.payload.keyId}`,
      };
}

/**
 * Whether `report` proves that exactly `source` (code, manifest and tests) passed every one of its
 * tests in a trusted sandbox.
 */
export function verifyTestReport(
  report: SignedTestReport | undefined,
  source: { code: string; manifest: unknown; tests: readonly unknown[] },
  trusted: TrustedKeys,
): Verdict {
  const signature = checkSignature(report, trusted);
  if (!signature.ok || !report) return signature;
  const { payload } = report;
  if (payload.codeHash !== toolCodeHash(source)) {
    return {
      ok: false,
      problem: "other-code",
      message: "the test report is about other code or another manifest",
    };
  }
  if (payload.testsHash !== toolTestsHash(source.tests)) {
    return { ok: false, problem: "other-tests", message: "the test report is about other tests" };
  }
  if (payload.total < 1 || payload.failed !== 0 || payload.passed !== payload.total) {
    return {
      ok: false,
      problem: "not-passed",
      message: `the test report says ${payload.passed} of ${payload.total} tests passed`,
    };
  }
  return signature;
}

/** Whether `batch` was signed by a trusted usage key for exactly these `calls`. */
export function verifyUsageBatch(
  batch: SignedUsageBatch | undefined,
  calls: readonly unknown[],
  trusted: TrustedKeys,
): Verdict {
  const signature = checkSignature(batch, trusted);
  if (!signature.ok || !batch) return signature;
  if (batch.payload.count !== calls.length || batch.payload.callsHash !== usageCallsHash(calls)) {
    return { ok: false, problem: "other-calls", message: "the signature is about other calls" };
  }
  return signature;
}
