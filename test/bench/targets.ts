import { appendFileSync } from "node:fs";

/**
 * Targets of a bench: each `target()` prints its verdict; `exitOnMiss()` (last line of a bench)
 * exits 1 when any was missed, so `npm run bench` (test/bench/run-all.ts) and CI see a miss.
 * Under run-all, each verdict is also appended as a JSON line to the file named by
 * INSITU_BENCH_VERDICTS, so the run ends with one verdict line per target across all benches.
 */
const missed: string[] = [];

/** One target's verdict, as run-all collects it. */
export interface Verdict {
  what: string;
  value: number;
  comparison: "<" | "<=" | ">=";
  limit: number;
  unit: string;
  met: boolean;
}

export function target(
  what: string,
  value: number,
  comparison: "<" | "<=" | ">=",
  limit: number,
  unit = "",
): boolean {
  const met = comparison === "<" ? value < limit : comparison === "<=" ? value <= limit : value >= limit;
  const line = `target ${what}: ${format(value)}${unit} ${comparison} ${format(limit)}${unit} — ${met ? "met" : "MISSED"}`;
  console.log(line);
  if (!met) missed.push(line);
  const verdicts = process.env.INSITU_BENCH_VERDICTS;
  if (verdicts) {
    const verdict: Verdict = { what, value, comparison, limit, unit, met };
    appendFileSync(verdicts, `${JSON.stringify(verdict)}\n`);
  }
  return met;
}

export function exitOnMiss(): never {
  if (missed.length > 0) {
    console.log(`\n${missed.length} target(s) MISSED:\n  ${missed.join("\n  ")}`);
    process.exit(1);
  }
  process.exit(0);
}

export function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}
