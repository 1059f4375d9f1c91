import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ToolManifest, ToolOutcome } from "@insitu/tool-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { operatorCallPolicy } from "./call-policy.js";
import { createMcpHttpEndpoint } from "./http-endpoint.js";
import { LibraryCatalog, type LibraryPort, type LibraryTool } from "./library-catalog.js";

/**
 * The gateway's MCP endpoint over REAL HTTP with the official SDK client: auth, session cap,
 * per-session rate and concurrency caps, refusal of tools reserved for review, bad arguments as
 * tool errors, list_changed on a stateful session. The library behind it is a FAKE port (a map
 * in memory; "running" a tool is a function here) — the real registry and sandbox path is in
 * test/e2e/mcp-server.test.ts.
 */
const TOKEN = "http-endpoint-test-token";

function manifest(name: string, extra: Partial<ToolManifest> = {}): ToolManifest {
  return {
    name,
    description: `The ${name} tool for tests.`,
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    outputSchema: { type: "object", properties: { length: { type: "integer" } } },
    permissions: { network: [], secrets: [] },
    ...extra,
  } as ToolManifest;
}

const usage = {
  calls: 0,
  byOutcome: {},
  successes: 0,
  successRate: 0,
  reuseCalls: 0,
  tasks: 0,
  meanLatencyMs: 0,
};
let tools: LibraryTool[] = [];
let onChange: (() => void) | undefined;
let release: (() => void) | undefined;
const recorded: string[] = [];

/** FAKE library port. */
const port: LibraryPort = {
  async snapshot() {
    return { snapshot: tools.length, tools: [...tools] };
  },
  async source(hash) {
    const tool = tools.find((item) => item.hash === hash);
    return {
      manifest: tool?.manifest ?? manifest("missing_tool"),
      version: hash,
      codeHash: "",
      grantedSecrets: [],
    };
  },
  async exec(source, input): Promise<ToolOutcome> {
    const text = (input as { text?: unknown }).text;
    if (typeof text !== "string") {
      return {
        status: "INVALID_INPUT",
        issues: [{ path: "/text", message: "must be string" }],
        durationMs: 1,
      };
    }
    if (source.manifest.name === "slow_tool") await new Promise<void>((resolve) => (release = resolve));
    return { status: "ok", output: { length: text.length }, durationMs: 1 };
  },
  async record(call) {
    recorded.push(call.callId);
  },
  async watch(listener) {
    onChange = listener;
    return { unsubscribe: () => (onChange = undefined) };
  },
};

const catalog = new LibraryCatalog(port);
const endpoint = createMcpHttpEndpoint({
  catalog,
  policy: operatorCallPolicy({ allowSecrets: [], allowHosts: "*" }),
  limits: { callsPerMinute: 5, maxConcurrent: 1 },
  maxSessions: 3,
  idleMs: 60_000,
  authorize: (request) => request.headers.authorization === `Bearer ${TOKEN}`,
});
let server: Server;
let url: URL;
const clients: { client: Client; transport: StreamableHTTPClientTransport }[] = [];

async function connect(name: string, onListChanged?: () => void): Promise<Client> {
  const client = new Client(
    { name, version: "1" },
    onListChanged ? { listChanged: { tools: { debounceMs: 0, onChanged: () => onListChanged() } } } : {},
  );
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
  });
  await client.connect(transport);
  clients.push({ client, transport });
  return client;
}

beforeAll(async () => {
  tools = [
    { name: "count_chars", hash: "sha256:1", manifest: manifest("count_chars"), usage },
    {
      name: "fetch_secret_page",
      hash: "sha256:2",
      manifest: manifest("fetch_secret_page", {
        permissions: { network: ["api.example.com"], secrets: ["API_KEY"] },
      }),
      usage,
    },
    { name: "slow_tool", hash: "sha256:3", manifest: manifest("slow_tool"), usage },
  ];
  server = createServer((request, response) => {
    if (!endpoint.handle(request, response)) {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
});

afterEach(async () => {
  // A well-behaved client ends its session (HTTP DELETE); the endpoint then frees the slot.
  for (const { client, transport } of clients.splice(0)) {
    await transport.terminateSession().catch(() => {});
    await client.close().catch(() => {});
  }
  await expect.poll(() => endpoint.sessions).toBe(0);
});

afterAll(async () => {
  await endpoint.close();
  catalog.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("MCP over the gateway's Streamable HTTP endpoint (fake library)", () => {
  it("answers 401 without the bearer token and 404 for an unknown session", async () => {
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: {} };
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    expect((await fetch(url, { method: "POST", headers, body: JSON.stringify(init) })).status).toBe(401);
    const unknown = await fetch(url, {
      method: "POST",
      headers: { ...headers, authorization: `Bearer ${TOKEN}`, "mcp-session-id": "nope" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(unknown.status).toBe(404);
  });

  it("lists every tool with version and stats in _meta; a tool reserved for review is listed but refused", async () => {
    const client = await connect("list");
    const listed = (await client.listTools()).tools;
    expect(listed.map((tool) => tool.name)).toEqual(["count_chars", "fetch_secret_page", "slow_tool"]);
    expect(listed[0]?._meta).toMatchObject({ "insitu/version": "sha256:1", "insitu/stats": { calls: 0 } });
    expect(listed[1]?._meta?.["insitu/review"]).toMatch(/secret API_KEY.*reserves for review/);
    const refused = await client.callTool({ name: "fetch_secret_page", arguments: { text: "x" } });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toMatch(
      /needs secret API_KEY, which the operator reserves for review/,
    );
    const ok = await client.callTool({ name: "count_chars", arguments: { text: "four" } });
    expect(ok.structuredContent).toEqual({ length: 4 });
    const bad = await client.callTool({ name: "count_chars", arguments: { text: 4 } });
    expect(bad.isError).toBe(true);
    expect(JSON.stringify(bad.content)).toMatch(/invalid arguments for count_chars: \/text must be string/);
  });

  it("caps calls per session: one at a time, then a rate per minute", async () => {
    const client = await connect("limits");
    const slow = client.callTool({ name: "slow_tool", arguments: { text: "x" } });
    await expect.poll(() => release !== undefined).toBe(true);
    const second = await client.callTool({ name: "count_chars", arguments: { text: "x" } });
    expect(second.isError).toBe(true);
    expect(JSON.stringify(second.content)).toMatch(/already has 1 calls running \(limit 1\)/);
    release?.();
    expect((await slow).structuredContent).toEqual({ length: 1 });
    const results = [];
    for (let index = 0; index < 5; index++) {
      results.push(await client.callTool({ name: "count_chars", arguments: { text: "x" } }));
    }
    // 5 per minute: the slow call took one, so the fifth sequential call is over the rate.
    expect(results.filter((result) => result.isError).length).toBe(1);
    expect(JSON.stringify(results.at(-1)?.content)).toMatch(/exceeded 5 calls per minute/);
    // Another session has its own budget.
    const other = await connect("limits-2");
    expect(
      (await other.callTool({ name: "count_chars", arguments: { text: "ab" } })).structuredContent,
    ).toEqual({
      length: 2,
    });
  });

  it("caps open sessions", async () => {
    await connect("one");
    await connect("two");
    await connect("three");
    expect(endpoint.sessions).toBe(3);
    await expect(connect("four")).rejects.toThrow(/503|MCP sessions open/);
  });

  it("pushes list_changed to an open session when the library changes outside any request", async () => {
    let changes = 0;
    const client = await connect("watch", () => changes++);
    expect((await client.listTools()).tools).toHaveLength(3);
    tools = [...tools, { name: "new_tool", hash: "sha256:4", manifest: manifest("new_tool"), usage }];
    onChange?.();
    await expect.poll(() => changes, { timeout: 5000 }).toBeGreaterThan(0);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("new_tool");
    // A snapshot move that changes nothing (e.g. stats only) is not announced.
    const before = changes;
    onChange?.();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(changes).toBe(before);
  });
});
