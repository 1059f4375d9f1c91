import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Bus, type NatsServerHandle, connectBus, endpoint, startNatsServer } from "@insitu/bus";
import { RegistryCodeGet, SandboxExec, SandboxTest, generateSigningKey } from "@insitu/contracts";
import { type ToolManifest, computeCodeHash, computeToolHash } from "@insitu/tool-kit";
import { sampleTool } from "@insitu/tool-kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Tools by content address (docs/adr/0160) with the sandbox service as it runs (its own process,
// real NATS, real Deno). The registry's `registry.code.get` is a stub served by this test on the
// same NATS: it counts what the sandbox fetches, and can answer code other than what was asked.
let nats: NatsServerHandle;
let bus: Bus;
let replica: ChildProcess;
const prefix = `cah${randomBytes(4).toString("hex")}`;

/** Code the stub registry holds, by version; `served` counts code.get answers and their bytes. */
const store = new Map<string, { code: string; manifest: ToolManifest }>();
const served = { calls: 0, codeBytes: 0 };
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

function registered(tool: ReturnType<typeof sampleTool>) {
  const version = computeToolHash(tool);
  store.set(version, { code: tool.code, manifest: tool.manifest });
  return { manifest: tool.manifest, codeHash: computeCodeHash(tool.code), version };
}

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectBus({ url: nats.url, prefix, name: "code-by-hash-test" });
  await bus.serve({
    name: "registry",
    version: "0.1.0",
    description: "stub registry: code by version",
    endpoints: [
      endpoint(RegistryCodeGet, async ({ version }) => {
        const held = store.get(version);
        if (held === undefined) throw new Error(`no code for ${version}`);
        served.calls += 1;
        served.codeBytes += Buffer.byteLength(held.code, "utf8");
        return held;
      }),
    ],
  });
  const script = fileURLToPath(new URL("./main.ts", import.meta.url));
  replica = spawn(process.execPath, ["--import", "tsx", script], {
    env: {
      ...process.env,
      NATS_URL: nats.url,
      NATS_PREFIX: prefix,
      LOG_LEVEL: "warn",
      SANDBOX_CONCURRENCY: "1",
      SANDBOX_WARM_PER_PROFILE: "1",
      SANDBOX_WORK_TMPFS_MB: "256",
      SANDBOX_SIGNING_KEY: generateSigningKey().privateKey,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    replica.once("exit", (code) => reject(new Error(`sandbox exited with ${code}`)));
    createInterface({ input: replica.stdout! }).on("line", (line) => {
      if (line.startsWith("http ")) resolve();
    });
  });
}, 60_000);

afterAll(async () => {
  if (replica && replica.exitCode === null) {
    await new Promise<void>((resolve) => {
      replica.once("exit", () => resolve());
      replica.kill("SIGTERM");
    });
  }
  await bus?.drain();
  await nats?.dispose();
});

describe("sandbox: registered tools by code hash", () => {
  it("fetches a registered tool's code once for two calls", async () => {
    const tool = registered(sampleTool("add_by_hash"));
    const before = served.calls;
    const first = await bus.request(SandboxExec, { tool, input: { a: 2, b: 3 } });
    const second = await bus.request(SandboxExec, { tool, input: { a: 4, b: 5 } });
    expect(first).toMatchObject({ status: "ok", output: { sum: 5 } });
    expect(second).toMatchObject({ status: "ok", output: { sum: 9 } });
    expect(served.calls - before).toBe(1);
    // sandbox.test takes the same form and the same cache.
    const tested = await bus.request(SandboxTest, { tool, tests: sampleTool().tests });
    expect(tested.passed).toBe(true);
    expect(served.calls - before).toBe(1);
  });

  it("refuses code that does not hash to the code hash it was named by", async () => {
    const honest = sampleTool("tampered_tool");
    const tool = registered(honest);
    // The store answers other code under that version (a corrupt store, a wrong reply).
    store.set(tool.version, {
      code: honest.code.replace("input.a + input.b", "input.a * 1000"),
      manifest: honest.manifest,
    });
    await expect(bus.request(SandboxExec, { tool, input: { a: 1, b: 1 } })).rejects.toMatchObject({
      code: "TOOL_CODE_HASH_MISMATCH",
    });
    // Nothing was cached: the honest code, once the store has it, runs.
    store.set(tool.version, { code: honest.code, manifest: honest.manifest });
    expect(await bus.request(SandboxExec, { tool, input: { a: 1, b: 1 } })).toMatchObject({
      status: "ok",
      output: { sum: 2 },
    });
  });

  it("runs a registered tool under the manifest the registry admitted, not the one its caller sent", async () => {
    const slow = sampleTool("slow_by_hash");
    slow.code = slow.code.replace(
      "return { sum: input.a + input.b };",
      "await new Promise((resolve) => setTimeout(resolve, 3000));\n  return { sum: input.a + input.b };",
    );
    slow.manifest = { ...slow.manifest, limits: { timeoutMs: 500 } };
    const tool = registered(slow);
    // A caller (a compromised executor, an MCP client's forged request) sends the same hash with
    // a manifest that raises the limit: the registered 500 ms still applies.
    const widened = { ...tool, manifest: { ...slow.manifest, limits: { timeoutMs: 20_000 } } };
    const outcome = await bus.request(SandboxExec, { tool: widened, input: { a: 1, b: 2 } });
    expect(outcome.status).toBe("TIMEOUT");
  }, 60_000);

  it("still runs a draft with its code inline, without asking the registry", async () => {
    const draft = sampleTool("draft_tool");
    const before = served.calls;
    const outcome = await bus.request(SandboxExec, {
      tool: { code: draft.code, manifest: draft.manifest },
      input: { a: 20, b: 22 },
    });
    expect(outcome).toMatchObject({ status: "ok", output: { sum: 42 } });
    expect(served.calls).toBe(before);
  });

  it("measures code bytes on the wire, by value against by hash", async () => {
    const small = sampleTool("measured_small");
    const smallTool = registered(small);
    const fetchedBefore = served.codeBytes;
    for (const input of [
      { a: 1, b: 2 },
      { a: 3, b: 4 },
    ])
      await bus.request(SandboxExec, { tool: smallTool, input });
    const codeBytes = Buffer.byteLength(small.code, "utf8");
    // By value: the executor's registry.get reply carried the code once, each sandbox.exec again.
    const byValue = codeBytes * 3;
    const byHash = served.codeBytes - fetchedBefore;
    expect(byHash).toBe(codeBytes);

    const big = sampleTool("measured_big");
    big.code += `// ${"x".repeat(200 * 1024)}\n`;
    const bigTool = registered(big);
    const inline = { tool: { code: big.code, manifest: big.manifest }, input: { a: 1, b: 2 } };
    const byRef = { tool: bigTool, input: { a: 1, b: 2 } };
    expect(await bus.request(SandboxExec, byRef)).toMatchObject({ status: "ok", output: { sum: 3 } });
    process.stdout.write(
      `code bytes on the wire for 2 calls of a ${codeBytes}-byte tool: ${byValue} by value, ${byHash} by hash\n` +
        `sandbox.exec request payload for a ${Buffer.byteLength(big.code)}-byte tool: ${bytes(inline)} by value, ${bytes(byRef)} by hash\n`,
    );
    expect(bytes(byRef)).toBeLessThan(2000);
  });
});
