/**
 * A tool build outside the model: type-check + manifest + the tool's own tests in the sandbox, for a
 * typical model-written tool (~100 lines, six tests, test/bench/build/fixture.ts).
 *
 *   npx tsx test/bench/build/bench.ts [builds=10]
 *
 * deno      — `deno check` per module (the path before ADR 0087)
 * resident  — TypeScript kept loaded with Deno's declarations in a child process (ADR 0087)
 * Both paths run interleaved, one build each in turn, with a pause between, each on new text (no
 * cache can answer). Target (issue 19): a build (check + tests) ≤ 1.5 s p50 on this machine.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { Checker, Sandbox, defaultPolicy, vettedSpecifiers } from "@insitu/sandbox";
import { exitOnMiss, target } from "../targets.js";
import { durationTool } from "./fixture.js";

const builds = Number(process.argv[2] ?? 10);

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1] ?? Number.NaN;
}

const sandbox = new Sandbox({ policy: defaultPolicy(), concurrency: 2 });
const allowedSpecifiers = vettedSpecifiers(sandbox.environment);
const paths = {
  deno: new Checker(sandbox, { allowedSpecifiers, typeChecker: "deno" }),
  resident: new Checker(sandbox, { allowedSpecifiers, typeChecker: "resident" }),
};
type Path = keyof typeof paths;
const times: Record<Path, { check: number[]; tests: number[]; build: number[] }> = {
  deno: { check: [], tests: [], build: [] },
  resident: { check: [], tests: [], build: [] },
};

let variant = Date.now();
async function build(path: Path, record: boolean): Promise<void> {
  variant += 1;
  const { code, tests } = durationTool(variant);
  const started = performance.now();
  const checked = await paths[path].check(code);
  const checkedAt = performance.now();
  if (!checked.ok || !checked.manifest)
    throw new Error(`${path}: the fixture did not check: ${JSON.stringify(checked.diagnostics)}`);
  const report = await sandbox.test({ tool: { code, manifest: checked.manifest }, tests });
  if (!report.passed) throw new Error(`${path}: the fixture's tests failed: ${JSON.stringify(report)}`);
  const done = performance.now();
  if (!record) return;
  times[path].check.push(checkedAt - started);
  times[path].tests.push(done - checkedAt);
  times[path].build.push(done - started);
}

console.log(`build bench — ${builds} builds per path, interleaved`);
const warmStarted = performance.now();
await paths.resident.warm();
console.log(
  `resident checker loaded in ${(performance.now() - warmStarted).toFixed(0)} ms (once per replica)`,
);
for (const path of ["deno", "resident"] as const) await build(path, false);
const loads: number[] = [];
for (let i = 0; i < builds; i += 1) {
  for (const path of ["deno", "resident"] as const) {
    loads.push(loadavg()[0] ?? 0);
    await build(path, true);
    await sleep(300);
  }
}
const load = loads.reduce((sum, value) => sum + value, 0) / loads.length;
console.log(`load average during the run ${load.toFixed(2)} on ${cpus().length} cores`);
for (const path of ["deno", "resident"] as const) {
  const row = times[path];
  console.log(
    `${path.padEnd(9)} check p50 ${p50(row.check).toFixed(0).padStart(5)} ms   tests p50 ${p50(row.tests).toFixed(0).padStart(5)} ms   build p50 ${p50(row.build).toFixed(0).padStart(5)} ms`,
  );
}
const pid = (paths.resident as unknown as { resident: { pid?: number } }).resident.pid;
if (pid !== undefined) {
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  console.log(`resident checker process: ${(Number(rss) / 1024).toFixed(0)} MiB resident`);
}
console.log(`speed-up of a build: ${(p50(times.deno.build) / p50(times.resident.build)).toFixed(2)}x`);
target("build p50 (resident checker)", p50(times.resident.build), "<=", 1500, " ms");
await paths.resident.close();
await sandbox.close();
exitOnMiss();
