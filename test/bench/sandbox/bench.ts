/**
 * Sandbox per-call overhead, cold and warm, beside the floor measured in the same run.
 *
 *   npx tsx test/bench/sandbox/bench.ts [calls=60]
 *
 * floor      — bare `deno run` of the same trivial tool file, spawned from Node with execa
 * cold       — Sandbox.exec with no warm pool: prlimit + cgroup + fresh Deno + runner + data: import
 * warm       — Sandbox.exec taking a pre-spawned single-use process (the pool had time to refill)
 * warm b2b   — back-to-back calls (the pool refills while the next call waits)
 * Targets (issue 3): cold p50 ≤ 1.3 × floor p50; warm p50 < 10 ms.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Sandbox, defaultPolicy, resolveDenoBinary } from "@insitu/sandbox";
import { sampleTool } from "@insitu/tool-kit/testing";
import { execa } from "execa";
import { exitOnMiss, target } from "../targets.js";

const calls = Number(process.argv[2] ?? 60);
const tool = sampleTool();
const request = { tool: { code: tool.code, manifest: tool.manifest }, input: { a: 2, b: 3 } };

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function report(label: string, times: number[]): { p50: number; p99: number } {
  const { p50, p99 } = summary(times);
  console.log(
    `${label.padEnd(34)} p50 ${p50.toFixed(2).padStart(7)} ms   p99 ${p99.toFixed(2).padStart(7)} ms`,
  );
  return { p50, p99 };
}

function summary(values: number[]): { p50: number; p99: number } {
  return { p50: percentile(values, 50), p99: percentile(values, 99) };
}

async function timeSequential(
  label: string,
  n: number,
  call: () => Promise<unknown>,
  paceMs = 0,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    await call();
    if (paceMs) await sleep(paceMs);
  }
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
    if (paceMs) await sleep(paceMs);
  }
  const { p50, p99 } = summary(times);
  console.log(
    `${label.padEnd(34)} p50 ${p50.toFixed(2).padStart(7)} ms   p99 ${p99.toFixed(2).padStart(7)} ms`,
  );
  return times;
}

async function throughput(
  label: string,
  concurrency: number,
  durationMs: number,
  call: () => Promise<unknown>,
): Promise<number> {
  let done = 0;
  const until = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await call();
        done += 1;
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  console.log(`${label.padEnd(34)} ${rate.toFixed(1).padStart(7)} calls/s`);
  return rate;
}

async function main(): Promise<void> {
  const deno = resolveDenoBinary();
  const dir = mkdtempSync(join(tmpdir(), "insitu-bench-"));
  const file = join(dir, "tool.ts");
  writeFileSync(file, `${tool.code}\nconsole.log(JSON.stringify(await run({ a: 2, b: 3 })));\n`);
  const denoDir = join(dir, "deno-dir");
  const bare = () =>
    execa(deno, ["run", "--no-prompt", "--no-config", "--no-lock", file], {
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      extendEnv: false,
      stdin: "ignore",
    });

  const cold = new Sandbox({ policy: defaultPolicy(), warm: { perProfile: 0 }, concurrency: 2 });
  const warm = new Sandbox({
    policy: defaultPolicy(),
    warm: { perProfile: 2, maxIdleMs: 120_000 },
    concurrency: 2,
  });
  const peaks: number[] = [];
  cold.onExec((event) => {
    if (event.peakMemoryBytes !== undefined) peaks.push(event.peakMemoryBytes);
  });
  const check = (sandbox: Sandbox) => async () => {
    const outcome = await sandbox.exec(request);
    if (outcome.status !== "ok") throw new Error(`bench call failed: ${JSON.stringify(outcome)}`);
  };

  console.log(
    `sandbox bench — ${calls} calls per series; limits via ${cold.enforcement.mechanism}; work dirs on ${cold.workStorage}`,
  );
  console.log(
    `load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(" ")} on ${cpus().length} cores`,
  );
  // Interleaved: floor, cold and warm calls alternate, so machine noise lands on all three alike.
  const series = { floor: [] as number[], cold: [] as number[], warm: [] as number[] };
  const timed = async (into: number[], call: () => Promise<unknown>) => {
    const started = performance.now();
    await call();
    into.push(performance.now() - started);
  };
  for (let i = 0; i < 5; i += 1) {
    await bare();
    await check(cold)();
    await check(warm)();
  }
  for (let i = 0; i < calls; i += 1) {
    await timed(series.floor, bare);
    await timed(series.cold, check(cold));
    // The warm pool refills after each call; give the replacement its start-up time (~15 ms).
    await sleep(40);
    await timed(series.warm, check(warm));
  }
  const floor = report("floor: bare deno run (execa)", series.floor);
  const coldTimes = report("cold: Sandbox.exec", series.cold);
  const warmTimes = report("warm: Sandbox.exec (pool ready)", series.warm);
  const warmB2b = summary(await timeSequential("warm: Sandbox.exec (back-to-back)", calls, check(warm)));
  const floorRate1 = await throughput("floor @1", 1, 3000, bare);
  const floorRate2 = await throughput("floor @2", 2, 3000, bare);
  const cold1 = await throughput("cold @1", 1, 3000, check(cold));
  const cold2 = await throughput("cold @2", 2, 3000, check(cold));
  const warm1 = await throughput("warm @1", 1, 3000, check(warm));
  const warm2 = await throughput("warm @2", 2, 3000, check(warm));
  const peak = summary(peaks.map((bytes) => bytes / 1024 / 1024));
  console.log(
    `peak memory charged to the call's cgroup (after the process joined it, beyond Deno's own start-up): p50 ${peak.p50.toFixed(1)} MiB   p99 ${peak.p99.toFixed(1)} MiB   (n=${peaks.length})`,
  );
  // Whole-process resident memory at the end of a call, as the process itself reports it.
  const rssTool = {
    ...request.tool,
    code: "export default async function run() { return { sum: Deno.memoryUsage().rss }; }",
  };
  const rss: number[] = [];
  for (let i = 0; i < 10; i += 1) {
    const outcome = await cold.exec({ tool: rssTool, input: { a: 0, b: 0 } });
    if (outcome.status === "ok") rss.push((outcome.output as { sum: number }).sum / 1024 / 1024);
  }
  const bareRss: number[] = [];
  const rssFile = join(dir, "rss.ts");
  writeFileSync(rssFile, "console.log(Deno.memoryUsage().rss);\n");
  for (let i = 0; i < 10; i += 1) {
    const result = await execa(deno, ["run", "--no-prompt", "--no-config", "--no-lock", rssFile], {
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      extendEnv: false,
      stdin: "ignore",
    });
    bareRss.push(Number(result.stdout) / 1024 / 1024);
  }
  console.log(
    `resident memory of a call's process at its end: p50 ${summary(rss).p50.toFixed(1)} MiB (bare deno run: ${summary(bareRss).p50.toFixed(1)} MiB)`,
  );
  console.log("");
  console.log(`cold p50 / floor p50 = ${(coldTimes.p50 / floor.p50).toFixed(2)}x   (target ≤ 1.30x)`);
  console.log(
    `warm p50 = ${warmTimes.p50.toFixed(2)} ms (target < 10 ms); back-to-back warm p50 = ${warmB2b.p50.toFixed(2)} ms`,
  );
  target("cold p50 / floor p50", coldTimes.p50 / floor.p50, "<=", 1.3, "x");
  target("warm p50", warmTimes.p50, "<", 10, " ms");
  console.log(
    `calls/s: floor ${floorRate1.toFixed(1)} / ${floorRate2.toFixed(1)}, cold ${cold1.toFixed(1)} / ${cold2.toFixed(1)}, warm ${warm1.toFixed(1)} / ${warm2.toFixed(1)} (at 1 / 2 concurrent)`,
  );
  await cold.close();
  await warm.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
exitOnMiss();
