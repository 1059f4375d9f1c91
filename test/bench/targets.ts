/**
 * Targets of a bench: each `target()` prints its verdict; `exitOnMiss()` (last line of a bench)
 * exits 1 when any was missed, so `npm run bench` (test/bench/run-all.ts) and CI see a miss.
 */
const missed: string[] = [];

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
  return met;
}

export function exitOnMiss(): never {
  if (missed.length > 0) {
    console.log(`\n${missed.length} target(s) MISSED:\n  ${missed.join("\n  ")}`);
    process.exit(1);
  }
  process.exit(0);
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}
