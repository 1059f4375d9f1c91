/**
 * What signed evidence costs (ADR 0125): the sandbox signs one report per test run, the registry
 * verifies it once per register; the executor signs one batch per recorded call, the registry
 * verifies it once per record. Measured on a typical tool (≈ 6 KB module, 5 tests) and a one-call
 * usage batch, in-process (node:crypto Ed25519), median and p99 of many runs.
 *
 *   npx tsx test/bench/attestation/bench.ts
 */
import { loadavg } from "node:os";
import {
  type Signer,
  generateSigningKey,
  signTestReport,
  signUsageBatch,
  signerFromPrivateKey,
  trustedKeysFrom,
  verifyTestReport,
  verifyUsageBatch,
} from "@insitu/contracts";
import { exitOnMiss, target } from "../targets.js";

const RUNS = 3000;
const signer = signerFromPrivateKey(generateSigningKey().privateKey) as Signer;
const trusted = trustedKeysFrom(signer.publicKey)!;

const manifest = {
  name: "parse_dates",
  description: "Parses dates in many formats and answers ISO-8601 strings.",
  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  outputSchema: { type: "object", properties: { dates: { type: "array", items: { type: "string" } } } },
  permissions: { network: [], secrets: [] },
};
const source = {
  code: `export const manifest = ${JSON.stringify(manifest)};\n${"// body line of a typical tool module\n".repeat(150)}`,
  manifest,
  tests: Array.from({ length: 5 }, (_, index) => ({
    name: `case ${index}`,
    input: { text: `2024-0${index + 1}-15 and March ${index + 3}` },
    expect: { equals: { dates: [`2024-0${index + 1}-15`] } },
  })),
};
const calls = [
  {
    callId: "task-1.r1.e1.s1.0",
    taskId: "task-1",
    hash: `sha256:${"a".repeat(64)}`,
    outcome: "success",
    sandboxStatus: "ok",
    latencyMs: 42,
  },
];

function measure(what: string, run: () => unknown): { p50: number; p99: number } {
  for (let index = 0; index < 200; index++) run();
  const times: number[] = [];
  for (let index = 0; index < RUNS; index++) {
    const started = performance.now();
    run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(RUNS / 2)]! * 1000;
  const p99 = times[Math.floor(RUNS * 0.99)]! * 1000;
  console.log(
    `${what.padEnd(34)} p50 ${p50.toFixed(1).padStart(7)} µs   p99 ${p99.toFixed(1).padStart(7)} µs`,
  );
  return { p50, p99 };
}

console.log(
  `module ${source.code.length} chars, ${source.tests.length} tests; ${RUNS} runs each; load ${loadavg()
    .map((value) => value.toFixed(2))
    .join(" ")}`,
);
const report = signTestReport(signer, source, { total: 5, passed: 5 });
const batch = signUsageBatch(signer, calls);
const signReport = measure("sandbox: sign a test report", () =>
  signTestReport(signer, source, { total: 5, passed: 5 }),
);
const verifyReport = measure("registry: verify a test report", () => {
  if (!verifyTestReport(report, source, trusted).ok) throw new Error("report did not verify");
});
const signBatch = measure("executor: sign a usage batch", () => signUsageBatch(signer, calls));
const verifyBatch = measure("registry: verify a usage batch", () => {
  if (!verifyUsageBatch(batch, calls, trusted).ok) throw new Error("batch did not verify");
});
console.log(
  `load after ${loadavg()
    .map((value) => value.toFixed(2))
    .join(" ")}`,
);

// A register takes milliseconds (KV writes) and a test run seconds; a recorded call ≈ 1 ms of bus
// round trips. Evidence should stay a small share: under 1 ms median per register, under 0.5 ms
// per recorded call (sign + verify).
target("sign + verify a test report, median", (signReport.p50 + verifyReport.p50) / 1000, "<", 1, " ms");
target("sign + verify a usage batch, median", (signBatch.p50 + verifyBatch.p50) / 1000, "<", 0.5, " ms");
exitOnMiss();
