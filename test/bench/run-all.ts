/**
 * `npm run bench`: runs every test/bench/<area>/bench.ts one after another (they measure speed, so
 * never in parallel), prints each one's output, and exits 1 when any bench failed or missed a
 * target (each bench exits non-zero on a miss — see test/bench/targets.ts).
 *
 *   npm run bench                 # all
 *   npm run bench -- bus sandbox  # only these areas
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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

const results: { area: string; code: number; seconds: number }[] = [];
for (const area of areas) {
  console.log(`\n===== bench: ${area} =====`);
  const started = performance.now();
  const run = spawnSync(process.execPath, ["--import", "tsx", join(here, area, "bench.ts")], {
    stdio: "inherit",
  });
  results.push({ area, code: run.status ?? 1, seconds: (performance.now() - started) / 1000 });
}

console.log("\n===== benches =====");
for (const { area, code, seconds } of results) {
  console.log(
    `${area.padEnd(10)} ${code === 0 ? "ok    " : `FAILED (exit ${code})`}  ${seconds.toFixed(1)} s`,
  );
}
process.exit(results.some((result) => result.code !== 0) ? 1 : 0);
