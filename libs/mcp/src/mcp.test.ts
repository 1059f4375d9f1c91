import type { ToolManifest } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { callPolicyFromEnv, operatorCallPolicy } from "./call-policy.js";
import { LibraryCatalog, type LibraryPort, type LibraryTool } from "./library-catalog.js";
import { SessionLimiter } from "./session-limits.js";

const usage = {
  calls: 0,
  byOutcome: {},
  successes: 0,
  successRate: 0,
  reuseCalls: 0,
  tasks: 0,
  meanLatencyMs: 0,
};

function manifest(network: string[] = [], secrets: string[] = []): ToolManifest {
  return {
    name: "fetch_page",
    description: "Fetches a page for tests.",
    inputSchema: { type: "object" },
    outputSchema: { type: "object" },
    permissions: { network, secrets },
  } as ToolManifest;
}

describe("operatorCallPolicy (the MCP call hook)", () => {
  it("allows tools without secrets that reach public hosts by default", () => {
    const policy = callPolicyFromEnv({});
    expect(policy.review(manifest(["api.example.com:443"]))).toBeUndefined();
  });

  it("reserves tools declaring secrets or internal hosts for review unless the operator allows them", () => {
    const policy = callPolicyFromEnv({});
    expect(policy.review(manifest([], ["TAVILY_API_KEY"]))).toMatch(/needs secret TAVILY_API_KEY/);
    expect(policy.review(manifest(["127.0.0.1:8080"]))).toMatch(/network 127.0.0.1:8080/);
    const open = callPolicyFromEnv({
      INSITU_MCP_ALLOW_SECRETS: "TAVILY_API_KEY",
      INSITU_MCP_ALLOW_HOSTS: "*",
    });
    expect(open.review(manifest(["api.tavily.com"], ["TAVILY_API_KEY"]))).toBeUndefined();
  });

  it("with a host list, only those hosts are allowed", () => {
    const policy = operatorCallPolicy({ allowSecrets: "*", allowHosts: ["api.example.com", "10.0.0.5:80"] });
    expect(policy.review(manifest(["api.example.com:443", "10.0.0.5:80"]))).toBeUndefined();
    expect(policy.review(manifest(["other.example.org"]))).toMatch(/network other.example.org/);
  });
});

describe("SessionLimiter", () => {
  it("caps calls in flight and refills the rate over time", () => {
    let now = 0;
    const limiter = new SessionLimiter({ callsPerMinute: 2, maxConcurrent: 1 }, () => now);
    const first = limiter.acquire();
    expect(first.ok).toBe(true);
    expect(limiter.acquire()).toMatchObject({ ok: false, reason: expect.stringMatching(/limit 1/) });
    if (first.ok) first.release();
    const second = limiter.acquire();
    if (second.ok) second.release();
    expect(limiter.acquire()).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/2 calls per minute/),
    });
    now += 30_000;
    expect(limiter.acquire().ok).toBe(true);
  });
});

describe("LibraryCatalog", () => {
  function fakePort(state: { tools: LibraryTool[]; loads: number }) {
    let listener: (() => void) | undefined;
    const port: LibraryPort = {
      async snapshot() {
        state.loads++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { snapshot: state.loads, tools: [...state.tools] };
      },
      source: async () => ({ manifest: manifest(), version: "v", codeHash: "", grantedSecrets: [] }),
      exec: async () => ({ status: "ok", output: {}, durationMs: 0 }),
      record: async () => {},
      watch: async (onChange) => {
        listener = onChange;
        return { unsubscribe: () => (listener = undefined) };
      },
    };
    return { port, fire: () => listener?.() };
  }
  const tool = (name: string, hash: string): LibraryTool => ({ name, hash, manifest: manifest(), usage });

  it("announces a change only when the set of (name, version) changes; the first load is silent", async () => {
    const state = { tools: [tool("a_tool", "h1")], loads: 0 };
    const { port, fire } = fakePort(state);
    const catalog = new LibraryCatalog(port);
    let changes = 0;
    catalog.onChange(() => changes++);
    await catalog.ready();
    expect(changes).toBe(0);
    fire();
    await catalog.refresh();
    expect(changes).toBe(0);
    state.tools = [tool("a_tool", "h2")];
    await catalog.refresh();
    expect(changes).toBe(1);
    state.tools = [];
    await catalog.refresh();
    expect(changes).toBe(2);
    expect(catalog.list()).toEqual([]);
  });

  it("an empty library that gains its first tool is announced", async () => {
    const state = { tools: [] as LibraryTool[], loads: 0 };
    const { port } = fakePort(state);
    const catalog = new LibraryCatalog(port);
    let changes = 0;
    catalog.onChange(() => changes++);
    await catalog.ready();
    state.tools = [tool("b_tool", "h1")];
    await catalog.refresh();
    expect(changes).toBe(1);
  });

  it("coalesces overlapping refreshes into one more load", async () => {
    const state = { tools: [tool("a_tool", "h1")], loads: 0 };
    const { port } = fakePort(state);
    const catalog = new LibraryCatalog(port);
    await catalog.ready();
    const before = state.loads;
    await Promise.all([catalog.refresh(), catalog.refresh(), catalog.refresh(), catalog.refresh()]);
    expect(state.loads - before).toBe(2);
  });
});
