import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Bus, type NatsServerHandle, connectBus, startNatsServer } from "@insitu/bus";
import {
  SandboxCheck,
  SandboxExec,
  SandboxTest,
  generateSigningKey,
  trustedKeysFrom,
  verifyTestReport,
} from "@insitu/contracts";
import { sampleTool } from "@insitu/tool-kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The sandbox service as it runs in production (its own process, real NATS, real Deno), two
// replicas sharing the subjects as a queue group.
let nats: NatsServerHandle;
let bus: Bus;
let httpServer: Server;
let httpPort = 0;
const replicas: { child: ChildProcess; httpUrl: string }[] = [];
const prefix = `sbx${randomBytes(4).toString("hex")}`;
// The replicas' signing key (ADR 0125): the test holds the public half, as the registry would.
const signingKey = generateSigningKey();

async function startReplica(
  extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; httpUrl: string }> {
  const script = fileURLToPath(new URL("./main.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: {
      ...process.env,
      NATS_URL: nats.url,
      NATS_PREFIX: prefix,
      LOG_LEVEL: "warn",
      SANDBOX_CONCURRENCY: "2",
      SANDBOX_WARM_PER_PROFILE: "1",
      SANDBOX_INTERNAL_HOSTS: `127.0.0.1:${httpPort}`,
      SANDBOX_SECRETS: "GREETING_TOKEN",
      GREETING_TOKEN: "token-from-operator",
      SANDBOX_WORK_TMPFS_MB: "256",
      ...extraEnv,
      SANDBOX_SIGNING_KEY: signingKey.privateKey,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const httpUrl = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`sandbox replica exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("http ")) resolve(line.slice(5));
    });
  });
  return { child, httpUrl };
}

beforeAll(async () => {
  httpServer = createServer((request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ greeting: "hello", token: request.headers.authorization ?? null }));
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  httpPort = (httpServer.address() as AddressInfo).port;
  nats = await startNatsServer();
  replicas.push(...(await Promise.all([startReplica(), startReplica()])));
  bus = await connectBus({ url: nats.url, prefix, name: "sandbox-test-client" });
});

afterAll(async () => {
  await bus?.drain();
  await Promise.all(
    replicas.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    ),
  );
  await nats?.dispose();
  await new Promise((resolve) => httpServer?.close(resolve));
});

describe("sandbox service over NATS", () => {
  const tool = sampleTool();

  it("runs a tool call and answers typed outcomes", async () => {
    const ok = await bus.request(SandboxExec, {
      tool: { code: tool.code, manifest: tool.manifest },
      input: { a: 2, b: 40 },
    });
    expect(ok).toMatchObject({ status: "ok", output: { sum: 42 } });
    const invalid = await bus.request(SandboxExec, {
      tool: { code: tool.code, manifest: tool.manifest },
      input: { a: "2" },
    });
    expect(invalid).toMatchObject({ status: "INVALID_INPUT" });
  });

  it("grants a declared, operator-allowed host and secret, and nothing else", async () => {
    const manifest = {
      name: "fetch_greeting",
      description: "Fetches the greeting from the local test server.",
      inputSchema: { type: "object", properties: { host: { type: "string" } }, required: ["host"] },
      outputSchema: { type: "object", properties: { greeting: { type: "string" } }, required: ["greeting"] },
      permissions: { network: [`127.0.0.1:${httpPort}`], secrets: ["GREETING_TOKEN"] },
    };
    const code = `export const manifest = ${JSON.stringify(manifest)};
export default async function run(input: { host: string }) {
  const response = await fetch("http://" + input.host + "/", { headers: { authorization: Deno.env.get("GREETING_TOKEN") ?? "none" } });
  return await response.json();
}`;
    const ok = await bus.request(SandboxExec, {
      tool: { code, manifest },
      input: { host: `127.0.0.1:${httpPort}` },
      grantedSecrets: ["GREETING_TOKEN"],
    });
    expect(ok).toMatchObject({ status: "ok", output: { greeting: "hello", token: "token-from-operator" } });
    const otherHost = await bus.request(SandboxExec, {
      tool: { code, manifest },
      input: { host: `localhost:${httpPort}` },
      grantedSecrets: ["GREETING_TOKEN"],
    });
    expect(otherHost).toMatchObject({
      status: "PERMISSION_DENIED",
      permission: { kind: "net", target: `localhost:${httpPort}` },
    });
    const notGranted = await bus.request(SandboxExec, {
      tool: { code, manifest },
      input: { host: `127.0.0.1:${httpPort}` },
    });
    expect(notGranted).toMatchObject({
      status: "PERMISSION_DENIED",
      permission: { kind: "env", target: "GREETING_TOKEN" },
    });
  });

  it("type-checks with actionable diagnostics, cached by content", async () => {
    const good = await bus.request(SandboxCheck, { code: tool.code }, { timeoutMs: 60_000 });
    expect(good).toMatchObject({ ok: true, diagnostics: [], manifest: { name: "add_numbers" } });
    const broken = tool.code.replace("return { sum: input.a + input.b };", 'return { sum: "three" };');
    const bad = await bus.request(SandboxCheck, { code: broken }, { timeoutMs: 60_000 });
    expect(bad.ok).toBe(false);
    const line = broken.split("\n").findIndex((text) => text.includes('"three"')) + 1;
    expect(bad.diagnostics[0]).toMatchObject({ code: "TS2322", line, source: 'return { sum: "three" };' });
    expect(bad.diagnostics[0]?.message).toMatch(/not assignable to type 'number'/);
    const again = await bus.request(SandboxCheck, { code: broken }, { timeoutMs: 60_000 });
    // Either replica may answer; the one that checked it before answers from its cache.
    expect(again.diagnostics).toEqual(bad.diagnostics);
    const sneaky = `import secret from "file:///etc/passwd" with { type: "text" };\n${tool.code}`;
    const refused = await bus.request(SandboxCheck, { code: sneaky }, { timeoutMs: 60_000 });
    expect(refused.diagnostics[0]).toMatchObject({ code: "IMPORT_NOT_ALLOWED", line: 1 });
    expect(JSON.stringify(refused)).not.toContain("root:x:0:0");
  });

  it("runs a tool's tests, judges each case and signs the run", async () => {
    const tests = [
      ...tool.tests,
      { name: "wrong expectation", input: { a: 1, b: 1 }, expect: { subset: { sum: 3 } } },
    ];
    const report = await bus.request(SandboxTest, {
      tool: { code: tool.code, manifest: tool.manifest },
      tests,
    });
    const trusted = trustedKeysFrom(signingKey.publicKey)!;
    expect(report.report.payload).toMatchObject({ total: 3, passed: 2, failed: 1, keyId: signingKey.keyId });
    expect(verifyTestReport(report.report, { ...tool, tests }, trusted)).toMatchObject({
      problem: "not-passed",
    });
    const passing = await bus.request(SandboxTest, {
      tool: { code: tool.code, manifest: tool.manifest },
      tests: tool.tests,
    });
    expect(verifyTestReport(passing.report, tool, trusted)).toEqual({ ok: true, keyId: signingKey.keyId });
    expect(report.passed).toBe(false);
    expect(report.results.map((result) => [result.name, result.passed])).toEqual([
      ["adds", true],
      ["rejects text", true],
      ["wrong expectation", false],
    ]);
    expect(report.results[2]?.failures).toEqual(["at /sum: expected 3, got 2"]);
  });

  it("replicas share the work and report their limit mechanism on /metrics", async () => {
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        bus.request(SandboxExec, {
          tool: { code: tool.code, manifest: tool.manifest },
          input: { a: i, b: 1 },
        }),
      ),
    );
    const texts = await Promise.all(
      replicas.map(async ({ httpUrl }) => (await fetch(`${httpUrl}/metrics`)).text()),
    );
    for (const text of texts) {
      expect(text).toMatch(
        /insitu_sandbox_limit_enforcement\{mechanism="(cgroup-v2|cgroup-v1|prlimit)",work_storage="(tmpfs|disk)"[^}]*\} 1/,
      );
      expect(text).toMatch(/insitu_sandbox_executions_total\{status="ok",warm="(true|false)"[^}]*\} [1-9]/);
    }
  });

  it("serves its limits report on /limits and marks degraded limits on /metrics", async () => {
    // The shipped image's mode, forced: prlimit, work dirs on disk (ADR 0135).
    const degraded = await startReplica({ SANDBOX_LIMITS: "prlimit", SANDBOX_WORK_TMPFS_MB: "0" });
    replicas.push(degraded);
    const report = (await (await fetch(`${degraded.httpUrl}/limits`)).json()) as {
      exact: boolean;
      degraded: string[];
      cgroupV2: { delegated: boolean; detail: string };
    };
    expect(report).toMatchObject({ exact: false, degraded: ["memory", "pids", "work_dir"] });
    expect(report.cgroupV2.detail.length).toBeGreaterThan(0);
    const metrics = await (await fetch(`${degraded.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/insitu_sandbox_limit_degraded\{limit="memory"[^}]*\} 1/);
    expect(metrics).toMatch(/insitu_sandbox_limit_degraded\{limit="work_dir"[^}]*\} 1/);
    expect(metrics).toMatch(/insitu_sandbox_limit_degraded\{limit="cpu"[^}]*\} 0/);
    // The replicas started with their defaults report what this machine gives them, consistently.
    const own = (await (await fetch(`${replicas[0]!.httpUrl}/limits`)).json()) as {
      exact: boolean;
      mechanism: string;
      workStorage: string;
    };
    expect(own.exact).toBe(own.mechanism !== "prlimit" && own.workStorage === "tmpfs");
  });

  it("refuses to start with SANDBOX_REQUIRE_EXACT_LIMITS=1 when a limit is degraded", async () => {
    const script = fileURLToPath(new URL("./main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: {
        ...process.env,
        NATS_URL: nats.url,
        NATS_PREFIX: prefix,
        LOG_LEVEL: "warn",
        SANDBOX_LIMITS: "prlimit",
        SANDBOX_WORK_TMPFS_MB: "0",
        SANDBOX_REQUIRE_EXACT_LIMITS: "1",
        // A sandbox without its key refuses to start too (ADR 0125): give it one, so only the limits refuse.
        SANDBOX_SIGNING_KEY: signingKey.privateKey,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    // Either it exits, or it starts serving (prints its URL): then the test fails at once.
    const code = await new Promise<number | null | "started">((resolve) => {
      child.once("exit", resolve);
      child.stdout?.on("data", () => {
        if (/^http /m.test(output)) resolve("started");
      });
    });
    if (code === "started") child.kill("SIGKILL");
    expect(code).not.toBe("started");
    expect(code).not.toBe(0);
    expect(output).toMatch(/SANDBOX_REQUIRE_EXACT_LIMITS is set but these limits are degraded/);
    expect(output).toMatch(/memory: RLIMIT_DATA/);
    expect(output).not.toMatch(/^http /m);
  });
});
