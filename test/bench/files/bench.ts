/**
 * What a task workspace costs a sandbox call: copying the task's files in before the run and
 * saving the new ones after it, against a real nats-server (JetStream KV + Object Store).
 *
 *   npx tsx test/bench/files/bench.ts [rounds=20]
 *
 * copy-in   — a workspace of 10 files × 64 KiB written into a fresh work dir
 * copy-out  — the same dir after a call wrote 5 new files × 64 KiB (digest, sniff, store, index CAS)
 * unchanged — copy-out when the call changed nothing (what a read-only tool pays)
 * Targets: copy-in p50 < 150 ms, copy-out p50 < 250 ms, unchanged p50 < 50 ms.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, startNatsServer } from "@insitu/bus";
import { WorkspaceStore, copyWorkspaceIn, copyWorkspaceOut } from "@insitu/files";

const rounds = Number(process.argv[2] ?? 20);

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const server = await startNatsServer();
const bus = await connectBus({ url: server.url, prefix: "bench", name: "files-bench" });
const store = await WorkspaceStore.open(bus, { retentionMs: 3_600_000 });
const times = { in: [] as number[], out: [] as number[], unchanged: [] as number[] };
try {
  for (let round = 0; round < rounds; round++) {
    const taskId = `bench-${round}`;
    await store.save(
      taskId,
      Array.from({ length: 10 }, (_, index) => ({
        path: `data/file-${index}.bin`,
        bytes: new Uint8Array(randomBytes(64 * 1024)),
        mediaType: "application/octet-stream",
        source: "attachment" as const,
      })),
    );
    const dir = mkdtempSync(join(tmpdir(), "files-bench-"));
    let started = performance.now();
    const copied = await copyWorkspaceIn(store, taskId, dir);
    times.in.push(performance.now() - started);
    started = performance.now();
    const unchanged = await copyWorkspaceOut(store, taskId, dir, copied);
    times.unchanged.push(performance.now() - started);
    if (unchanged.saved.length !== 0) throw new Error("an unchanged dir saved files");
    for (let index = 0; index < 5; index++)
      writeFileSync(join(dir, `out-${index}.bin`), randomBytes(64 * 1024));
    started = performance.now();
    const report = await copyWorkspaceOut(store, taskId, dir, copied);
    times.out.push(performance.now() - started);
    if (report.saved.length !== 5) throw new Error(`expected 5 saved files, got ${report.saved.length}`);
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  await bus.drain();
  await server.dispose();
}
const figures = { in: p50(times.in), out: p50(times.out), unchanged: p50(times.unchanged) };
console.log(`load average ${loadavg()[0]?.toFixed(1)}; ${rounds} rounds`);
console.log(`copy-in   (10 × 64 KiB)   p50 ${figures.in.toFixed(1)} ms   target < 150`);
console.log(`copy-out  (5 new × 64 KiB) p50 ${figures.out.toFixed(1)} ms   target < 250`);
console.log(`unchanged                 p50 ${figures.unchanged.toFixed(1)} ms   target < 50`);
const missed = figures.in >= 150 || figures.out >= 250 || figures.unchanged >= 50;
if (missed) {
  console.log("MISSED a target");
  process.exit(1);
}
