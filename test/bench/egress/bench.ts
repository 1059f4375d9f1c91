/**
 * What the egress proxy adds to one fetch, beside a direct fetch measured in the same run.
 *
 *   npx tsx test/bench/egress/bench.ts [fetches=200]
 *
 * direct  — a Deno process with `--allow-net=<local server>` fetching it N times in a loop
 * proxied — the same loop inside Sandbox.exec: each fetch goes runner → egress proxy (token,
 *           grant check, address check) → the local server
 * Both loops run inside one process each, so process start-up is not in the figures: only
 * per-fetch time. Target: the proxy adds ≤ 5 ms per fetch at p50.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox, defaultPolicy, resolveDenoBinary } from "@insitu/sandbox";
import { execa } from "execa";
import { exitOnMiss, target } from "../targets.js";

const fetches = Number(process.argv[2] ?? 200);
const TARGET_ADDED_P50_MS = 5;

const server = createServer((_request, response) => {
  response.setHeader("content-type", "application/json");
  response.end('{"ok":true}');
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = (server.address() as AddressInfo).port;

const loop = (count: number) => `
export default async function run(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ${count}; i++) {
    const started = performance.now();
    const response = await fetch("http://127.0.0.1:${port}/item");
    await response.json();
    times.push(performance.now() - started);
  }
  return times;
}`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

// direct: the same module run by a bare Deno process allowed to reach the server itself.
const dir = mkdtempSync(join(tmpdir(), "insitu-egress-bench-"));
const file = join(dir, "direct.ts");
writeFileSync(file, `${loop(fetches)}\nconsole.log(JSON.stringify(await run()));\n`);
const direct = await execa(
  resolveDenoBinary(),
  ["run", "--no-prompt", `--allow-net=127.0.0.1:${port}`, file],
  {
    env: { NO_COLOR: "1", DENO_DIR: join(dir, "deno") },
    extendEnv: false,
  },
);
const directTimes = (JSON.parse(direct.stdout) as number[]).slice(5);

const sandbox = new Sandbox({
  policy: defaultPolicy({ internalHosts: [`127.0.0.1:${port}`] }),
  warm: { perProfile: 0, prewarm: false },
});
const outcome = await sandbox.exec({
  tool: {
    code: loop(fetches),
    manifest: {
      name: "fetch_bench_item",
      description: "Fetches the local bench server N times.",
      inputSchema: {},
      outputSchema: {},
      permissions: { network: [`127.0.0.1:${port}`], secrets: [] },
    },
  },
  input: {},
  limits: { timeoutMs: 60_000 },
});
await sandbox.close();
server.close();
rmSync(dir, { recursive: true, force: true });
if (outcome.status !== "ok") {
  console.error("proxied run failed:", JSON.stringify(outcome).slice(0, 500));
  process.exit(1);
}
const proxiedTimes = (outcome.output as number[]).slice(5);

const row = (label: string, times: number[]) =>
  console.log(
    `${label.padEnd(8)} p50 ${percentile(times, 50).toFixed(2)} ms  p90 ${percentile(times, 90).toFixed(2)} ms  p99 ${percentile(times, 99).toFixed(2)} ms  (n=${times.length})`,
  );
console.log(
  `egress bench: ${fetches} sequential fetches per series, load average ${loadavg()[0]?.toFixed(1)}`,
);
row("direct", directTimes);
row("proxied", proxiedTimes);
const added = percentile(proxiedTimes, 50) - percentile(directTimes, 50);
console.log(`added per fetch at p50: ${added.toFixed(2)} ms`);
target("egress proxy added per fetch, p50", added, "<=", TARGET_ADDED_P50_MS, " ms");
exitOnMiss();
