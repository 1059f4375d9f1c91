import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { NATS_PID_FILE, startNatsServer } from "./nats-server.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function owner(dataDir: string): Promise<{ ownerPid: number; serverPid: number }> {
  const script = fileURLToPath(new URL("./fixtures/nats-owner.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`owner exited with ${code}`)));
  });
  return { ownerPid: child.pid!, serverPid: Number(line) };
}

async function gone(pid: number, withinMs: number): Promise<number> {
  const started = Date.now();
  while (alive(pid) && Date.now() - started < withinMs)
    await new Promise((resolve) => setTimeout(resolve, 50));
  return alive(pid) ? Number.POSITIVE_INFINITY : Date.now() - started;
}

describe("nats-server lifetime", () => {
  for (const signal of ["SIGKILL", "SIGHUP"] as const) {
    it(`dies with the process that started it (${signal} of the owner)`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "insitu-owner-"));
      dirs.push(dataDir);
      const { ownerPid, serverPid } = await owner(dataDir);
      expect(alive(serverPid)).toBe(true);
      process.kill(ownerPid, signal);
      const took = await gone(serverPid, 5000);
      console.info(`nats-server gone ${took} ms after ${signal} of its owner`);
      expect(took).toBeLessThan(5000);
    });
  }

  it("never runs two servers on one store: a second start stops the server still on the data dir", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "insitu-store-"));
    dirs.push(dataDir);
    const first = await startNatsServer({ dataDir, dieWithParent: false });
    const firstPid = Number(readFileSync(join(dataDir, NATS_PID_FILE), "utf8"));
    expect(alive(firstPid)).toBe(true);
    const second = await startNatsServer({ dataDir });
    try {
      expect(alive(firstPid)).toBe(false);
      expect(Number(readFileSync(join(dataDir, NATS_PID_FILE), "utf8"))).not.toBe(firstPid);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
