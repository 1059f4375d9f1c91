import { CallOnce, type OutcomeStore } from "@insitu/bus";
import type { Bus } from "@insitu/bus";
import type { ExternalTool } from "@insitu/contracts";
import type { ExternalCallResult, McpClientPool } from "@insitu/mcp";
import type { ToolOutcome } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { withExternalTools } from "./external-tools.js";

/** FAKES: an MCP pool that counts calls, a record store in memory, ports that must not be used. */
function fakePool(): McpClientPool & { calls: number } {
  const tool: ExternalTool = {
    server: "fixture",
    tool: "send_mail",
    name: "send_mail",
    description: "Sends a mail (a side effect).",
    inputSchema: { type: "object" },
    version: "mcp:fixture/send_mail",
  };
  const pool = {
    calls: 0,
    async find() {
      return tool;
    },
    async call(): Promise<ExternalCallResult> {
      pool.calls++;
      return { status: "ok", output: { sent: pool.calls }, durationMs: 3 } as ExternalCallResult;
    },
  };
  return pool as unknown as McpClientPool & { calls: number };
}

function memoryStore(): OutcomeStore<ToolOutcome> {
  const records = new Map<string, ToolOutcome>();
  return {
    async get(key) {
      return records.get(key);
    },
    async put(key, outcome) {
      records.set(key, outcome);
    },
  };
}

const unused = async (): Promise<never> => {
  throw new Error("built-tool port used for an external tool");
};
const builtPorts = { getTool: unused, exec: unused, recordUsage: unused, repair: unused };
const ref = { name: "send_mail", version: "mcp:fixture/send_mail" };

describe("external (MCP) tool calls", () => {
  it("a keyed call is made once: the redelivered round's repeat gets the recorded outcome", async () => {
    const pool = fakePool();
    const store = memoryStore();
    // Two executor processes (the first was killed after the call): only the store is shared.
    const first = withExternalTools(builtPorts, pool, {} as Bus, new CallOnce(store));
    const again = withExternalTools(builtPorts, pool, {} as Bus, new CallOnce(store));
    const key = "t1.r1.execute.1.0.abc";
    const outcome = await first.exec(await first.getTool(ref), { to: "x" }, "t1", key);
    const repeat = await again.exec(await again.getTool(ref), { to: "x" }, "t1", key);
    expect(pool.calls).toBe(1);
    expect(repeat).toEqual(outcome);
    expect(outcome).toMatchObject({ status: "ok", output: { sent: 1 } });
    // Another call (another key) is made.
    await again.exec(await again.getTool(ref), { to: "y" }, "t1", "t1.r1.execute.1.1.def");
    expect(pool.calls).toBe(2);
  });
});
