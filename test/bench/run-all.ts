/**
 * `npm run bench`: runs every test/bench/<area>/bench.ts one after another (they measure speed, so
 * never in parallel), prints each one's output, and exits 1 when any bench failed or missed a
 * target (each bench exits non-zero on a miss — see test/bench/targets.ts). It ends with a
 * `===== targets =====` block: one verdict line per target of every bench, the load average
 * (`uptime`) beside it, and a line for each bench that stated no target or failed before its verdicts.
 *
 *   npm run bench                 # all
 *   npm run bench -- bus sandbox  # only these areas
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Verdict, format } from "./targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((argument) => !argument.startsWith("-"));
const areas = readdirSync(here, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(here, entry.name, "bench.ts")))
  .map((entry) => entry.name)
  .filter((area) => wanted.length === 0 || wanted.includes(area))
  .sort();
const unknown = wanted.filter((area) => !areas.includes(area));
if (unknown.length > 0) {
  console.error(`no bench for: ${unknown.join(", ")}`);
  process.exit(2);
}

function uptime(): string {
  try {
    return execFileSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    return "uptime unavailable";
  }
}

const verdictDir = mkdtempSync(join(tmpdir(), "insitu-bench-verdicts-"));
const results: { area: string; code: number; seconds: number; verdicts: Verdict[]; load: string }[] = [];
for (const area of areas) {
  console.log(`\n===== bench: ${area} =====`);
  const started = performance.now();
  const verdictFile = join(verdictDir, `${area}.jsonl`);
  const run = spawnSync(process.execPath, ["--import", "tsx", join(here, area, "bench.ts")], {
    stdio: "inherit",
    env: { ...process.env, INSITU_BENCH_VERDICTS: verdictFile },
  });
  const verdicts = existsSync(verdictFile)
    ? readFileSync(verdictFile, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Verdict)
    : [];
  results.push({
    area,
    code: run.status ?? 1,
    seconds: (performance.now() - started) / 1000,
    verdicts,
    load: uptime().replace(/^.*load average:\s*/, ""),
  });
}
rmSync(verdictDir, { recursive: true, force: true });

console.log("\n===== benches =====");
for (const { area, code, seconds } of results) {
  console.log(
    `${area.padEnd(10)} ${code === 0 ? "ok    " : `FAILED (exit ${code})`}  ${seconds.toFixed(1)} s`,
  );
}

console.log("\n===== targets =====");
let missedCount = 0;
for (const { area, code, verdicts, load } of results) {
  for (const verdict of verdicts) {
    if (!verdict.met) missedCount += 1;
    console.log(
      `${area.padEnd(10)} ${verdict.met ? "met   " : "MISSED"}  ${verdict.what}: ${format(verdict.value)}${verdict.unit} ${verdict.comparison} ${format(verdict.limit)}${verdict.unit}   (load ${load})`,
    );
  }
  const missedHere = verdicts.some((verdict) => !verdict.met);
  if (code !== 0 && !missedHere) {
    missedCount += 1;
    console.log(
      `${area.padEnd(10)} FAILED  exited ${code} without a missed target (crashed before its verdicts?)`,
    );
  } else if (verdicts.length === 0) {
    console.log(`${area.padEnd(10)} —       states no target (exit ${code})`);
  }
}
console.log(
  `${missedCount === 0 ? "all targets met" : `${missedCount} target(s) missed or benches failed`} — ${uptime()}`,
);
process.exit(results.some((result) => result.code !== 0) ? 1 : 0);
