import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  type Bus,
  connectBus,
  type NatsServerHandle,
  type ServedService,
  startNatsServer,
} from "@insitu/bus";
import {
  RegistryAbsorb,
  RegistryCatalog,
  RegistryFinishTask,
  RegistryGet,
  RegistryList,
  RegistryRecordUsage,
  RegistryRegister,
  RegistrySearch,
  RegistrySnapshots,
  RegistryStats,
} from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { createLogger } from "@insitu/telemetry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryEndpoints } from "./endpoints.js";
import { exportLibrary, importLibrary } from "./export.js";
import { Registry } from "./registry.js";
import { loadQualityLibrary, registerRequest, signedUsage, testKeys, testTrust } from "./testing.js";

// Real nats-server (JetStream, file storage) started by the test on a random port with its own
// data dir; every test uses its own subject prefix, so its buckets are its own.
const logger = createLogger({ service: "registry-int", level: "error" });
let server: NatsServerHandle;
const buses: Bus[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await server.dispose();
});

const prefix = () => `r${randomBytes(4).toString("hex")}`;

async function connect(at: string, name = "registry-test"): Promise<Bus> {
  const bus = await connectBus({ url: server.url, prefix: at, name, logger, requestTimeoutMs: 20_000 });
  buses.push(bus);
  return bus;
}

async function replica(at: string): Promise<{ registry: Registry; served: ServedService; bus: Bus }> {
  const bus = await connect(at, "registry");
  const registry = await Registry.open(bus, { trust: testTrust, logger });
  const served = await bus.serve({
    name: "registry",
    version: "0.1.0",
    description: "registry replica under test",
    endpoints: registryEndpoints(registry),
  });
  return { registry, served, bus };
}

async function until<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Absorbs with the documented client loop: on SNAPSHOT_CONFLICT re-read the current number. */
async function absorbWithRetry(bus: Bus, hash: string, reason: string): Promise<number> {
  let expected = (await bus.request(RegistrySnapshots, { limit: 1 })).current;
  for (let attempt = 0; attempt < 500; attempt++) {
    try {
      return (
        await bus.request(RegistryAbsorb, {
          expectedSnapshot: expected,
          changes: [{ op: "add", hash }],
          reason,
        })
      ).number;
    } catch (error) {
      const typed = InsituError.from(error);
      if (typed.code !== "SNAPSHOT_CONFLICT") throw error;
      expected = typed.details.current as number;
    }
  }
  throw new Error("absorb never won");
}

describe("registry on a real nats-server", () => {
  it("16 writers registering, recording and absorbing in parallel lose no update", async () => {
    const at = prefix();
    const replicas = [await replica(at), await replica(at)];
    const writers = await Promise.all(
      Array.from({ length: 16 }, (_, index) => connect(at, `writer-${index}`)),
    );
    const shared = await writers[0]!.request(
      RegistryRegister,
      registerRequest("shared-task", "count_words", "Counts the words in a text."),
    );

    const numbers = await Promise.all(
      writers.map(async (bus, index) => {
        // Each writer: its own tool in its own task, one version into a pool every writer shares,
        // usage on one shared version (all compare-and-set hot spots), then an absorb.
        const own = await bus.request(
          RegistryRegister,
          registerRequest(`task-${index}`, `tool_w${index}`, `Tool number ${index} for the writer test.`),
        );
        await bus.request(
          RegistryRegister,
          registerRequest("shared-task", `pool_w${index}`, `Pool tool ${index} for the writer test.`),
        );
        await bus.request(
          RegistryRecordUsage,
          signedUsage(
            Array.from({ length: 5 }, (_, call) => ({
              callId: `w${index}-c${call}`,
              taskId: `task-${index}`,
              hash: shared.hash,
              outcome: "success" as const,
              latencyMs: 3,
            })),
          ),
        );
        return absorbWithRetry(bus, own.hash, `writer ${index}`);
      }),
    );

    expect(new Set(numbers).size).toBe(16);
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, index) => index + 1));
    const client = writers[0]!;
    const library = await client.request(RegistryList, { limit: 100 });
    expect(library.snapshot).toBe(16);
    expect(library.tools.map((tool) => tool.name).sort()).toEqual(
      Array.from({ length: 16 }, (_, index) => `tool_w${index}`).sort(),
    );
    const pool = await client.request(RegistryList, { scope: "pool", taskId: "shared-task", limit: 100 });
    expect(pool.total).toBe(17);
    const stats = await client.request(RegistryStats, { hash: shared.hash });
    expect(stats.tool?.calls).toBe(80);
    // Both replicas converge on the same state.
    for (const { registry } of replicas) {
      await registry.view.until(
        () => registry.view.snapshotNumber === 16 && registry.view.usage([shared.hash]).calls === 80,
      );
      expect(registry.view.currentTools.size).toBe(16);
    }
    for (const { registry, served } of replicas) {
      await served.stop();
      registry.stop();
    }
  });

  it("two replicas answer consistently: a write through one is seen by the other through the KV watch", async () => {
    const at = prefix();
    const a = await replica(at);
    const b = await replica(at);
    const tool = await a.registry.register(
      registerRequest("t1", "convert_currency", "Converts an amount between currencies.", {
        parameters: ["amount"],
      }),
    );
    // Read-your-writes across replicas for the task's own pool (read from the store when needed).
    expect((await b.registry.get({ by: "name", name: "convert_currency", taskId: "t1" })).hash).toBe(
      tool.hash,
    );
    await a.registry.recordUsage(
      signedUsage([{ callId: "c1", taskId: "t1", hash: tool.hash, outcome: "success", latencyMs: 4 }]),
    );
    await a.registry.finishTask({ taskId: "t1" });
    await b.registry.view.until(() => b.registry.view.snapshotNumber === 1);
    const fromA = await a.registry.search({ query: "convert currency amount" });
    const fromB = await b.registry.search({ query: "convert currency amount" });
    expect(fromB.hits.map((hit) => [hit.hash, hit.score])).toEqual(
      fromA.hits.map((hit) => [hit.hash, hit.score]),
    );
    expect(b.registry.convergence()).toEqual(a.registry.convergence());
    expect(await b.registry.list({})).toEqual(await a.registry.list({}));
    // And a rollback through B invalidates A's cache.
    await b.registry.rollback({ to: 0, expectedSnapshot: 1, reason: "test" });
    await a.registry.view.until(() => a.registry.view.snapshotNumber === 2);
    expect(a.registry.view.currentTools.size).toBe(0);
    expect((await a.registry.search({ query: "convert currency" })).hits).toEqual([]);
    for (const { registry, served } of [a, b]) {
      await served.stop();
      registry.stop();
    }
  });

  it("serves the catalog led by the task's neighbourhood; a malformed field is a typed error", async () => {
    const at = prefix();
    const { registry, served, bus } = await replica(at);
    await loadQualityLibrary(bus, registry, [
      ...Array.from({ length: 200 }, (_, index) => ({
        name: `process_record_${index}`,
        description: `Processes record batch ${index} of the warehouse ledger.`,
        parameters: ["record"],
        calls: 500 + index,
      })),
      {
        name: "geocode_address",
        description: "Turns a place name or address into latitude and longitude.",
        parameters: ["address"],
        calls: 1,
      },
    ]);
    const client = await connect(at);
    const plain = await client.request(RegistryCatalog, { budgetTokens: 600 });
    expect(plain.entries.some((entry) => entry.name === "geocode_address")).toBe(false);
    const task = await client.request(RegistryCatalog, {
      budgetTokens: 600,
      query: "How far is Reykjavik from Anchorage?",
      capabilities: ["latitude and longitude of a place"],
      taskId: "t-catalog",
      exclude: ["process_record_1"],
    });
    expect(task.entries[0]?.name).toBe("geocode_address");
    expect(task.related).toBeGreaterThanOrEqual(1);
    expect(task.omitted).toBe(task.total - task.entries.length);
    const refused = await client
      .request(RegistryCatalog, { budgetTokens: 600, exclude: ["Not A Tool Name"] })
      .catch((error: unknown) => error);
    expect(InsituError.from(refused).code).toBe("INVALID_MESSAGE");
    await served.stop();
    registry.stop();
  });

  it("a NATS restart loses nothing and the replicas keep serving and watching", async () => {
    const at = prefix();
    const a = await replica(at);
    const b = await replica(at);
    const client = await connect(at, "client");
    const first = await client.request(
      RegistryRegister,
      registerRequest("t1", "parse_csv", "Parses CSV text into rows."),
    );
    await client.request(
      RegistryRecordUsage,
      signedUsage([{ callId: "c1", taskId: "t1", hash: first.hash, outcome: "success", latencyMs: 2 }]),
    );
    await client.request(RegistryFinishTask, { taskId: "t1" });
    // Replicas converge through the watch (the finish may have been served by either).
    for (const { registry } of [a, b]) await registry.view.until(() => registry.view.snapshotNumber === 1);
    const before = a.registry.convergence();
    expect(b.registry.convergence()).toEqual(before);

    await server.restart();

    // Requests work again once the clients have reconnected, and nothing was lost.
    const after = await until(() => client.request(RegistryStats, {}, { timeoutMs: 1000 }));
    expect(after.global).toEqual(before);
    const second = await until(() =>
      client.request(RegistryRegister, registerRequest("t2", "split_lines", "Splits a text into lines."), {
        timeoutMs: 2000,
      }),
    );
    await client.request(RegistryAbsorb, {
      expectedSnapshot: 1,
      changes: [{ op: "add", hash: second.hash }],
      reason: "r",
    });
    // Both replicas' watches resumed: each sees the post-restart snapshot.
    for (const { registry } of [a, b]) {
      await registry.view.until(() => registry.view.snapshotNumber === 2);
      expect([...registry.view.currentTools.keys()].sort()).toEqual(["parse_csv", "split_lines"]);
    }
    // A registry started from scratch after the restart loads the same state.
    const fresh = await Registry.open(await connect(at), { trust: testTrust, logger });
    expect(fresh.convergence()).toEqual(a.registry.convergence());
    fresh.stop();
    for (const { registry, served } of [a, b]) {
      await served.stop();
      registry.stop();
    }
  });

  it("exports a library to files and warm-starts another stack from them", async () => {
    const source = await replica(prefix());
    for (const [index, name] of ["trim_text", "count_words", "parse_csv"].entries()) {
      await source.registry.register(
        registerRequest(`t${index}`, name, `Tool ${name.replace("_", " ")} for export.`),
      );
      const hash = source.registry.view.poolVersion(`t${index}`, name) as string;
      await source.registry.recordUsage(
        signedUsage([{ callId: `c${index}`, taskId: `t${index}`, hash, outcome: "success", latencyMs: 1 }]),
      );
      await source.registry.finishTask({ taskId: `t${index}` });
    }
    const directory = await mkdtemp(join(tmpdir(), "registry-export-int-"));
    try {
      expect(await exportLibrary(source.registry, directory)).toMatchObject({ snapshot: 3, tools: 3 });
      const target = await replica(prefix());
      const imported = await importLibrary(target.registry, directory);
      expect(imported).toMatchObject({ tools: 3, created: 3, edited: [] });
      expect([...target.registry.view.currentTools].sort()).toEqual(
        [...source.registry.view.currentTools].sort(),
      );
      const hash = source.registry.view.currentTools.get("parse_csv") as string;
      expect((await target.registry.get({ by: "hash", hash })).code).toBe(
        (await source.registry.get({ by: "hash", hash })).code,
      );
      for (const { registry, served } of [source, target]) {
        await served.stop();
        registry.stop();
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("the registry process restarts without losing state, and /metrics shows the convergence figures", async () => {
    const at = prefix();
    const client = await connect(at, "client");
    const first = await startProcess(at);
    const tool = await until(() =>
      client.request(RegistryRegister, registerRequest("t1", "fetch_page", "Fetches a web page as text.")),
    );
    await client.request(
      RegistryRecordUsage,
      signedUsage([
        { callId: "c1", taskId: "t1", hash: tool.hash, outcome: "success", latencyMs: 2 },
        { callId: "c2", taskId: "t2", hash: tool.hash, outcome: "timeout", latencyMs: 900 },
      ]),
    );
    await client.request(RegistryFinishTask, { taskId: "t1" });
    const metricsBefore = await (await fetch(`${first.url}/metrics`)).text();
    for (const line of [
      'insitu_library_tools{service="registry"} 1',
      'insitu_tools_created_total{service="registry"} 1',
      'insitu_tool_calls_total{outcome="success",service="registry"} 1',
      'insitu_tool_calls_total{outcome="timeout",service="registry"} 1',
      'insitu_egl_ratio{service="registry"} 0.5',
      'insitu_tool_success_ratio{service="registry"} 0.5',
      'insitu_tool_reuse_ratio{service="registry"} 0.5',
      'insitu_tasks_seen_total{service="registry"} 2',
      'insitu_library_snapshot{service="registry"} 1',
      'insitu_top_tool_calls{tool="fetch_page",service="registry"} 2',
    ]) {
      expect(metricsBefore).toContain(line);
    }
    first.child.kill("SIGTERM");
    await new Promise((resolve) => first.child.once("exit", resolve));

    const second = await startProcess(at);
    const metricsAfter = await (await fetch(`${second.url}/metrics`)).text();
    const figures = (text: string) =>
      text
        .split("\n")
        .filter((line) => /^insitu_(library|tools|tool_|egl|tasks|top)/.test(line))
        .sort();
    expect(figures(metricsAfter)).toEqual(figures(metricsBefore));
    expect((await client.request(RegistryGet, { by: "name", name: "fetch_page" })).hash).toBe(tool.hash);
    expect((await client.request(RegistrySearch, { query: "fetch a web page" })).hits[0]?.hash).toBe(
      tool.hash,
    );
    second.child.kill("SIGTERM");
    await new Promise((resolve) => second.child.once("exit", resolve));
  });
});

/** Starts `src/main.ts` as its own process and waits for its "service started" log line. */
async function startProcess(at: string): Promise<{ child: ChildProcess; url: string }> {
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    env: {
      ...process.env,
      NATS_URL: server.url,
      NATS_PREFIX: at,
      HTTP_PORT: "0",
      REGISTRY_EMBEDDINGS: "off",
      LOG_LEVEL: "info",
      TRUSTED_SANDBOX_KEYS: testKeys.sandbox.publicKey,
      TRUSTED_USAGE_KEYS: testKeys.executor.publicKey,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; http?: string };
        if (entry.msg === "service started" && entry.http) resolve(entry.http);
      } catch {
        // not a log line
      }
    });
    child.once("exit", (code) => reject(new Error(`registry exited early with ${code}`)));
  });
  return { child, url };
}
