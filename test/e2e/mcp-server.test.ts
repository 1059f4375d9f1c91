import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { type Bus, connectBus } from "@insitu/bus";
import { RegistryRollback, RegistrySnapshots, RegistryStats } from "@insitu/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";
import { eventsOf, submitTask } from "./task-client.js";

/**
 * The library served as an MCP server, seen through the OFFICIAL SDK client over both transports:
 * stdio (`insitu mcp` as a child process) and the gateway's Streamable HTTP `/mcp` (stateful
 * session, bearer token). A running task (FAKE scripted model, scenarios/loop.json; real NATS,
 * real Deno) creates `count_vowels`; both clients must receive `notifications/tools/list_changed`
 * and then list and call the new tool; a rollback must remove it with another list_changed.
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/loop.json", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;
const TOKEN = "mcp-e2e-token-0123456789";
const INSITU = fileURLToPath(new URL("../../bin/insitu", import.meta.url));

let stack: Stack;
let bus: Bus;

/** One SDK client with a log of every tools/list_changed it received (and the list it re-read). */
interface Watched {
  client: Client;
  changes: Tool[][];
  /** Resolves once a change notification arrives whose re-read list satisfies `check`. */
  until(check: (tools: Tool[]) => boolean, label: string): Promise<Tool[]>;
}

function watchedClient(name: string): Watched {
  const changes: Tool[][] = [];
  const waiters: { check: (tools: Tool[]) => boolean; resolve: (tools: Tool[]) => void }[] = [];
  const client = new Client(
    { name, version: "1.0.0" },
    {
      listChanged: {
        tools: {
          debounceMs: 20,
          onChanged(error, tools) {
            if (error || !tools) return;
            changes.push(tools);
            for (const waiter of [...waiters]) {
              if (waiter.check(tools)) {
                waiters.splice(waiters.indexOf(waiter), 1);
                waiter.resolve(tools);
              }
            }
          },
        },
      },
    },
  );
  return {
    client,
    changes,
    until(check, label) {
      const seen = changes.find(check);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`${name}: no tools/list_changed with ${label} (saw ${changes.length} changes)`)),
          60_000,
        );
        waiters.push({
          check,
          resolve: (tools) => {
            clearTimeout(timer);
            resolve(tools);
          },
        });
      });
    },
  };
}

let http: Watched;
let stdio: Watched;

beforeAll(async () => {
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES, "gateway"],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "2000", GATEWAY_API_TOKEN: TOKEN },
    serviceEnv: Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-mcp" });
  http = watchedClient("e2e-http");
  await http.client.connect(
    new StreamableHTTPClientTransport(new URL(`${stack.url("gateway")}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
    }),
  );
  stdio = watchedClient("e2e-stdio");
  await stdio.client.connect(
    new StdioClientTransport({
      command: INSITU,
      args: ["mcp", "--nats", stack.natsUrl, "--prefix", stack.prefix],
      // The stack's gateway key: `insitu mcp` records usage only signed by a key the registry trusts.
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        GATEWAY_SIGNING_KEY: stack.signingKeys.gateway.privateKey,
      },
      stderr: "pipe",
    }),
  );
});

afterAll(async () => {
  await http?.client.close().catch(() => {});
  await stdio?.client.close().catch(() => {});
  await bus?.drain();
  await stack?.stop();
});

const hasVowelTool = (tools: Tool[]) => tools.some((tool) => tool.name === "count_vowels");
/** The library's tools in a listing (without the built-in `ask_insitu`). */
const libraryTools = (tools: Tool[]) => tools.filter((tool) => tool.name !== "ask_insitu");

describe("insitu as an MCP server (official SDK client, stdio and Streamable HTTP)", () => {
  it("refuses the HTTP endpoint without the gateway's bearer token", async () => {
    const response = await fetch(`${stack.url("gateway")}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
    });
    expect(response.status).toBe(401);
    // The gateway's body limit holds on /mcp too (the SDK would otherwise read any size).
    const huge = await fetch(`${stack.url("gateway")}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { pad: "x".repeat(300_000) },
      }),
    });
    expect(huge.status).toBe(413);
    const unauthorized = new Client({ name: "no-token", version: "1" });
    await expect(
      unauthorized.connect(new StreamableHTTPClientTransport(new URL(`${stack.url("gateway")}/mcp`))),
    ).rejects.toThrow();
  });

  it("lists the empty library, then gets list_changed on both transports when a running task creates a tool", async () => {
    for (const watched of [http, stdio]) {
      expect(watched.client.getServerCapabilities()?.tools?.listChanged).toBe(true);
      const listed = (await watched.client.listTools()).tools;
      expect(listed.map((tool) => tool.name)).toEqual(["ask_insitu"]);
    }
    const task = await submitTask(bus, "How many vowels are in the word 'encyclopedia'?", { label: "mcp" });
    const [overHttp, overStdio] = await Promise.all([
      http.until(hasVowelTool, "count_vowels"),
      stdio.until(hasVowelTool, "count_vowels"),
    ]);
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.toolsCreated).toEqual(["count_vowels"]);
    // The listed version is exactly the one this task built and tested.
    const built = eventsOf(task.events, "tool-build-end")[0];
    for (const tools of [overHttp, overStdio]) {
      const tool = tools.find((item) => item.name === "count_vowels");
      expect(tool?._meta?.["insitu/version"]).toBe(built?.version);
      expect(tool?.inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string" } } });
      expect(tool?.outputSchema).toMatchObject({ type: "object" });
      expect(tool?._meta?.["insitu/stats"]).toMatchObject({ calls: 1 });
    }
  });

  it("calls the new tool in the sandbox over both transports, returns structured content, records usage", async () => {
    const before = await bus.request(RegistryStats, { name: "count_vowels" });
    const overHttp = await http.client.callTool({
      name: "count_vowels",
      arguments: { text: "onomatopoeia" },
    });
    expect(overHttp.isError).toBeFalsy();
    expect(overHttp.structuredContent).toEqual({ vowels: 8 });
    const overStdio = await stdio.client.callTool({
      name: "count_vowels",
      arguments: { text: "Insitu MCP" },
    });
    expect(overStdio.isError).toBeFalsy();
    expect(overStdio.structuredContent).toEqual({ vowels: 3 });
    const after = await bus.request(RegistryStats, { name: "count_vowels" });
    expect(after.tool?.calls).toBe((before.tool?.calls ?? 0) + 2);
    expect(after.tool?.byOutcome.success).toBe((before.tool?.byOutcome.success ?? 0) + 2);
  });

  it("answers bad arguments and unknown tools as MCP tool errors, never a crash", async () => {
    for (const watched of [http, stdio]) {
      const bad = await watched.client.callTool({ name: "count_vowels", arguments: { text: 42 } });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toMatch(/invalid arguments for count_vowels: .*text/);
      const missing = await watched.client.callTool({ name: "count_vowels", arguments: {} });
      expect(missing.isError).toBe(true);
      const unknown = await watched.client.callTool({ name: "no_such_tool", arguments: {} });
      expect(unknown.isError).toBe(true);
      expect(JSON.stringify(unknown.content)).toMatch(/no tool named no_such_tool/);
      // The session still works afterwards.
      expect(hasVowelTool((await watched.client.listTools()).tools)).toBe(true);
    }
  });

  it("ask_insitu runs a whole task for the client and streams its progress", async () => {
    const progress: string[] = [];
    const result = await http.client.callTool(
      { name: "ask_insitu", arguments: { question: "Count the vowels in 'onomatopoeia'." } },
      undefined,
      {
        onprogress: (update) => progress.push(update.message ?? ""),
        resetTimeoutOnProgress: true,
        timeout: 120_000,
      },
    );
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      status: "succeeded",
      answer: "8",
      toolsUsed: ["count_vowels"],
      toolsCreated: [],
    });
    expect(progress).toContain("round 1 planned: using count_vowels");
    expect(progress).toContain("called count_vowels: success");
    const bad = await http.client.callTool({ name: "ask_insitu", arguments: { question: "" } });
    expect(bad.isError).toBe(true);
  });

  it("gets list_changed on both transports when a rollback removes the tool", async () => {
    const { current } = await bus.request(RegistrySnapshots, { limit: 1 });
    const seenBefore = [http.changes.length, stdio.changes.length];
    await bus.request(RegistryRollback, {
      to: 0,
      expectedSnapshot: current,
      reason: "e2e: roll back the MCP test's tool",
    });
    const gone = (tools: Tool[]) => !hasVowelTool(tools);
    const [overHttp, overStdio] = await Promise.all([
      http.until(
        (tools) => http.changes.length > (seenBefore[0] ?? 0) && gone(tools),
        "count_vowels removed",
      ),
      stdio.until(
        (tools) => stdio.changes.length > (seenBefore[1] ?? 0) && gone(tools),
        "count_vowels removed",
      ),
    ]);
    expect(libraryTools(overHttp)).toEqual([]);
    expect(libraryTools(overStdio)).toEqual([]);
    const call = await http.client.callTool({ name: "count_vowels", arguments: { text: "a" } });
    expect(call.isError).toBe(true);
  });
});
