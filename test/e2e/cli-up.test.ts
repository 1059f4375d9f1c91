import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
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
let data2: string;

afterAll(async () => {
  for (const dir of [data, data2]) if (dir) await rm(dir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The stack's processes: every service's process group (its Deno children included) and whatever
 * carries the stack's data dir in its environment (nats-server and its watchdog shell). */
function stackProcesses(data: string, groups: number[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      // Field 5 of /proc/<pid>/stat is the process group (after the parenthesised command name).
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue; // a zombie is dead, only not yet reaped
      const group = Number(fields[2]);
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (groups.includes(group) || environ.includes(`INSITU_DATA_DIR=${data}`)) found.push(pid);
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  return found;
}

async function until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Ports and data dir of a private stack; the roles' model is the demo's FAKE scripted model. */
async function stackEnv(dir: string): Promise<Record<string, string>> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    NO_COLOR: "1",
    INSITU_DATA_DIR: dir,
    INSITU_GATEWAY_PORT: String(await freePort()),
    INSITU_NATS_PORT: String(await freePort()),
    INSITU_NATS_MONITOR_PORT: String(await freePort()),
    INSITU_SCRIPT: join(root, "test/e2e/scenarios/demo/demo.json"),
  };
}

interface RunningUp {
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `insitu up` as a process, resolved once it says the stack is up. */
async function launchUp(env: Record<string, string>): Promise<RunningUp> {
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
  while (!output.includes("Ctrl-C stops everything.")) {
    if (up.exitCode !== null) throw new Error(`insitu up exited early:\n${output}`);
    await new Promise<void>((resolve) => waiters.push(resolve));
  }
  return { process: up, output: () => output, exited };
}

/** The service pids `up` recorded in stack.json (each leads its own process group). */
async function servicePids(dir: string): Promise<number[]> {
  const state = JSON.parse(await readFile(join(dir, "stack.json"), "utf8")) as {
    services: Record<string, { pid?: number }>;
  };
  return Object.values(state.services).flatMap((entry) => (entry.pid ? [entry.pid] : []));
}

function listProcesses(pids: number[]): string {
  return pids
    .map((pid) => {
      try {
        return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").slice(0, 200)}`;
      } catch {
        return `${pid} (gone)`;
      }
    })
    .join("\n");
}

describe("insitu up", () => {
  it("starts the stack, which status reports healthy and ask uses; Ctrl-C stops every process", async () => {
    data = await mkdtemp(join(tmpdir(), "insitu-up-"));
    const env = await stackEnv(data);
    const up = await launchUp(env);
    try {
      expect(up.output()).toContain(`gateway   http://127.0.0.1:${env.INSITU_GATEWAY_PORT}`);
      expect(up.output()).toContain(`NATS      nats://127.0.0.1:${env.INSITU_NATS_PORT}`);
      expect(up.output()).toMatch(/^\[manager\] +info /m);

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

      const pids = await servicePids(data);
      expect(pids.length).toBeGreaterThanOrEqual(6);

      up.process.kill("SIGINT");
      expect(await up.exited).toBe(0);
      expect(up.output()).toContain("Stopped.");
      expect(existsSync(join(data, "stack.json"))).toBe(false);
      expect(pids.filter(isAlive)).toEqual([]);
      // The library and tasks persist in the project-local JetStream dir.
      expect(existsSync(join(data, "nats", "jetstream"))).toBe(true);
    } finally {
      if (up.process.exitCode === null) up.process.kill("SIGKILL");
    }
  });

  it("leaves no process behind however up dies (kill -9, a closed terminal), and the next up starts on the same store", async () => {
    data2 = await mkdtemp(join(tmpdir(), "insitu-up-"));
    const env = await stackEnv(data2);
    let up = await launchUp(env);
    try {
      const groups = await servicePids(data2);
      const before = stackProcesses(data2, groups);
      // The services, nats-server behind its watchdog, and the sandbox's warm Deno processes.
      expect(before.length).toBeGreaterThan(groups.length + 1);

      up.process.kill("SIGKILL");
      const left = await until(() => (stackProcesses(data2, groups).length === 0 ? [] : undefined), 30_000);
      expect(
        left,
        `still running 30 s after kill -9 of up:\n${listProcesses(stackProcesses(data2, groups))}`,
      ).toEqual([]);

      // A stale stack.json and the same JetStream store: the next up starts cleanly.
      up = await launchUp(env);
      const status = await run(insitu, ["status", "--json"], { cwd: "/", env });
      expect((JSON.parse(status.stdout) as { nats: { healthy: boolean } }).nats.healthy).toBe(true);
      const groupsAgain = await servicePids(data2);
      expect(stackProcesses(data2, groupsAgain).length).toBeGreaterThan(groupsAgain.length + 1);

      up.process.kill("SIGHUP");
      expect(await up.exited).toBe(0);
      expect(up.output()).toContain("SIGHUP: stopping services");
      const leftAfterHup = await until(
        () => (stackProcesses(data2, groupsAgain).length === 0 ? [] : undefined),
        10_000,
      );
      expect(
        leftAfterHup,
        `still running after SIGHUP:\n${listProcesses(stackProcesses(data2, groupsAgain))}`,
      ).toEqual([]);
    } finally {
      if (up.process.exitCode === null) up.process.kill("SIGKILL");
    }
  });
});
