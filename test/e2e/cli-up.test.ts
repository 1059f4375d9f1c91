import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { findRepoRoot, freePort } from "../harness/stack.js";

// The README's main command, `insitu up`, as a process: it starts nats-server and every service,
// `insitu status` in "another terminal" finds that stack by itself (no flags) and reports it
// healthy, `insitu ask` finds its gateway, and Ctrl-C stops everything. Data dir and ports are
// redirected (INSITU_DATA_DIR, INSITU_*_PORT) so the test never touches a developer's stack. The
// roles' model is the FAKE scripted model of the demo scenario.

const run = promisify(execFile);
const root = findRepoRoot();
const insitu = join(root, "bin", "insitu");
let data: string;

afterAll(async () => {
  if (data) await rm(data, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("insitu up", () => {
  it("starts the stack, which status reports healthy and ask uses; Ctrl-C stops every process", async () => {
    data = await mkdtemp(join(tmpdir(), "insitu-up-"));
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      NO_COLOR: "1",
      INSITU_DATA_DIR: data,
      INSITU_GATEWAY_PORT: String(await freePort()),
      INSITU_NATS_PORT: String(await freePort()),
      INSITU_NATS_MONITOR_PORT: String(await freePort()),
      INSITU_SCRIPT: join(root, "test/e2e/scenarios/demo/demo.json"),
    };
    const up = spawn(insitu, ["up"], { cwd: "/", env });
    let output = "";
    const waiters: Array<() => void> = [];
    const collect = (chunk: string): void => {
      output += chunk;
      for (const wake of waiters.splice(0)) wake();
    };
    up.stdout.setEncoding("utf8").on("data", collect);
    up.stderr.setEncoding("utf8").on("data", collect);
    const exited = new Promise<number | null>((resolve) => up.once("exit", resolve));
    try {
      while (!output.includes("Ctrl-C stops everything.")) {
        if (up.exitCode !== null) throw new Error(`insitu up exited early:\n${output}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      expect(output).toContain(`gateway   http://127.0.0.1:${env.INSITU_GATEWAY_PORT}`);
      expect(output).toContain(`NATS      nats://127.0.0.1:${env.INSITU_NATS_PORT}`);
      expect(output).toMatch(/^\[manager\] +info /m);

      const status = await run(insitu, ["status", "--json"], { cwd: "/", env });
      const report = JSON.parse(status.stdout) as {
        nats: { healthy: boolean };
        jetstream: { enabled: boolean };
        services: { name: string }[];
        processes: { name: string; ready: boolean }[];
      };
      expect(report.nats.healthy).toBe(true);
      expect(report.jetstream.enabled).toBe(true);
      expect(report.services.map((service) => service.name)).toEqual(
        expect.arrayContaining(["manager", "registry", "sandbox"]),
      );
      expect(report.processes.length).toBeGreaterThanOrEqual(6);
      expect(report.processes.filter((entry) => !entry.ready)).toEqual([]);

      const asked = await run(insitu, ["ask", "How many vowels are in the word 'encyclopedia'?", "--quiet"], {
        cwd: "/",
        env,
      });
      expect(asked.stdout).toMatch(/Answer:\n5/);

      const state = JSON.parse(await readFile(join(data, "stack.json"), "utf8")) as {
        services: Record<string, { pid?: number }>;
      };
      const pids = Object.values(state.services).flatMap((entry) => (entry.pid ? [entry.pid] : []));
      expect(pids.length).toBeGreaterThanOrEqual(6);

      up.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(output).toContain("Stopped.");
      expect(existsSync(join(data, "stack.json"))).toBe(false);
      expect(pids.filter(isAlive)).toEqual([]);
      // The library and tasks persist in the project-local JetStream dir.
      expect(existsSync(join(data, "nats", "jetstream"))).toBe(true);
    } finally {
      if (up.exitCode === null) up.kill("SIGKILL");
    }
  });
});
