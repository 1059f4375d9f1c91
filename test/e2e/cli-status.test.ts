import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";

// `insitu status` against a stack started the way `insitu up` starts it: a real nats-server
// (random port, temp data) and every service as its own process. The roles' models are the FAKE
// scripted model of the loop scenario, so they start without a model provider; the loop scenario
// scripts no evolver, so that role runs without a model (what `status` must show as "none").

const SERVICES = [
  "evolver",
  "executor",
  "gateway",
  "integrator",
  "manager",
  "registry",
  "sandbox",
  "tool-developer",
];

const run = promisify(execFile);
const root = findRepoRoot();
const insitu = join(root, "bin", "insitu");
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    env: { INSITU_SCRIPT: join(root, "test/e2e/scenarios/loop.json"), LOG_LEVEL: "warn" },
    onLog: () => {},
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function status(...extra: string[]): Promise<{ code: number; stdout: string }> {
  const args = [
    "status",
    "--nats",
    stack.natsUrl,
    "--monitor",
    stack.natsMonitorUrl ?? "",
    "--prefix",
    stack.prefix,
    ...extra,
  ];
  try {
    const { stdout } = await run(insitu, args, { cwd: "/", env: { ...process.env, NO_COLOR: "1" } });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

interface StatusJson {
  nats: { healthy: boolean; reachable: boolean; version?: string };
  jetstream: { enabled: boolean; streams?: number };
  prefix: string;
  services: {
    name: string;
    prefix?: string;
    endpoints: { name: string }[];
    models?: Record<string, string>;
  }[];
  missing: string[];
  models: { role: string; model: string | null; services: string[] }[];
}

describe("insitu status against a started stack", () => {
  it("reports NATS and JetStream healthy and finds the services through $SRV", async () => {
    const { code, stdout } = await status("--json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as StatusJson;
    expect(report.nats).toMatchObject({ healthy: true, reachable: true });
    expect(report.nats.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.jetstream.enabled).toBe(true);
    expect(report.jetstream.streams).toBeGreaterThan(0);
    const names = report.services.map((service) => service.name);
    expect(names).toEqual(expect.arrayContaining(["manager", "registry"]));
    expect(report.services.every((service) => service.prefix === stack.prefix)).toBe(true);
    const manager = report.services.find((service) => service.name === "manager");
    expect(manager?.endpoints.map((endpoint) => endpoint.name)).toEqual(
      expect.arrayContaining(["submit", "get"]),
    );
  });

  it("lists every one of the 8 services, and the model each role runs on as the services report it", async () => {
    const report = JSON.parse((await status("--json")).stdout) as StatusJson;
    expect([...new Set(report.services.map((service) => service.name))].sort()).toEqual(SERVICES);
    expect(report.missing).toEqual([]);
    const models = Object.fromEntries(report.models.map((entry) => [entry.role, entry.model]));
    expect(models).toEqual({
      manager: "scripted/scripted-manager",
      "tool-developer": "scripted/scripted-tool-developer",
      executor: "scripted/scripted-executor",
      integrator: "scripted/scripted-integrator",
      evolver: null,
    });
  });

  it("prints a readable table, with the library's figures when it knows the gateway", async () => {
    const { code, stdout } = await status("--gateway", stack.url("gateway"));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^NATS\s+healthy\s+nats:\/\/(\*\*\*@)?127\.0\.0\.1:\d+/m);
    // The stack's NATS runs with auth (ADR 0120): the URL's credentials are never printed.
    expect(stdout).not.toMatch(/nats:\/\/[^*\s@]+@/);
    expect(stdout).toMatch(/^JetStream\s+enabled/m);
    expect(stdout).toMatch(/^Library\s+0 tools \(snapshot 0\), 0 calls, EGL n\/a/m);
    expect(stdout).toMatch(/^\s+registry\s+0\.1\.0/m);
    expect(stdout).toMatch(/^\s+gateway\s+0\.1\.0\s+\S+\s+-/m);
    expect(stdout).toMatch(/^Models per role/m);
    expect(stdout).toMatch(/^\s+manager\s+scripted\/scripted-manager$/m);
    expect(stdout).toMatch(
      /^\s+evolver\s+none — set GEMINI_API_KEY .* in the terminal that runs `insitu up`/m,
    );
  });

  it("shows a killed service gone, and back after a restart", async () => {
    await stack.kill("registry", "SIGKILL");
    const without = JSON.parse((await status("--json")).stdout) as StatusJson;
    expect(without.services.map((service) => service.name)).not.toContain("registry");
    expect(without.missing).toEqual(["registry"]);
    await stack.restart("registry");
    const again = JSON.parse((await status("--json")).stdout) as StatusJson;
    expect(again.services.map((service) => service.name)).toContain("registry");
  });

  it("exits non-zero and says so when NATS is not there", async () => {
    const { code, stdout } = await run(
      insitu,
      ["status", "--nats", "nats://127.0.0.1:1", "--monitor", "http://127.0.0.1:1"],
      {
        env: { ...process.env, NO_COLOR: "1" },
      },
    ).then(
      (result) => ({ code: 0, stdout: result.stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    expect(code).toBe(4);
    expect(stdout).toMatch(/^NATS\s+UNREACHABLE/m);
  });
});
