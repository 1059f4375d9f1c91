import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Bus, connectBus } from "@insitu/bus";
import {
  ExternalToolsList,
  RegistryExternalStats,
  RegistryGet,
  RegistryList,
  RegistryStats,
} from "@insitu/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";
import { eventsOf, submitTask } from "./task-client.js";

/**
 * Tools of an operator-configured MCP server used inside tasks: real nats-server, every role its
 * own process, the executor connected to a REAL stdio MCP server (fixtures/mcp-fixture-server.mjs,
 * official SDK) through its client pool; the model is FAKE (scenarios/mcp.json). The checks are on
 * what the fixture server computed, what the registry recorded (apart from built tools) and how a
 * dying or hung server ends a call: typed, never a hang.
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/mcp.json", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/mcp-fixture-server.mjs", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;

let stack: Stack;
let bus: Bus;
let configDir: string;

beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), "insitu-mcp-e2e-"));
  const configPath = join(configDir, "mcp.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      servers: {
        fixture: {
          command: process.execPath,
          args: [FIXTURE],
          secrets: ["MCP_FIXTURE_SECRET"],
          callTimeoutMs: 1500,
        },
      },
    }),
  );
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "2000" },
    serviceEnv: {
      ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
      executor: { INSITU_SCRIPT: SCRIPT, INSITU_MCP_CONFIG: configPath, MCP_FIXTURE_SECRET: "x" },
    },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-mcp-client" });
});

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe("external MCP tools inside tasks", () => {
  it("the executor lists the fixture server's tools as external tools", async () => {
    const listed = await bus.request(ExternalToolsList, {});
    expect(listed.unavailable).toEqual([]);
    expect(listed.tools.map((tool) => tool.name)).toContain("fixture_reverse_text");
  });

  it("a scripted task uses the external tool through the executor's MCP client; it never enters the library", async () => {
    const before = await bus.request(RegistryStats, {});
    const task = await submitTask(bus, "Reverse the text 'stressed' and tell me the result.", {
      label: "mcp-rev",
    });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("desserts");
    expect(record.toolsCreated).toEqual([]);
    expect(eventsOf(task.events, "plan-end")[0]?.toolsChosen).toEqual(["fixture_reverse_text"]);
    const calls = eventsOf(task.events, "tool-call-end");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.outcome).toBe("success");
    // Computed by the fixture MCP server, not by the script.
    expect(JSON.parse(calls[0]?.output ?? "{}")).toEqual({ reversed: "desserts", length: 8 });
    // Recorded apart from built tools: the library's calls and EGL are untouched.
    const external = await bus.request(RegistryExternalStats, {});
    expect(external.tools).toContainEqual({
      name: "fixture_reverse_text",
      version: "mcp:fixture/reverse_text",
      calls: 1,
      successes: 1,
    });
    const after = await bus.request(RegistryStats, {});
    expect(after.global.toolCalls).toBe(before.global.toolCalls);
    expect(after.global.toolsCreated).toBe(before.global.toolsCreated);
    // Never copied into the library.
    expect((await bus.request(RegistryList, {})).tools.map((tool) => tool.name)).not.toContain(
      "fixture_reverse_text",
    );
    await expect(
      bus.request(RegistryGet, { by: "name", name: "fixture_reverse_text" }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("a server that dies mid-call gives the task a typed error, not a hang, and no repair is asked", async () => {
    const task = await submitTask(bus, "Run the exit check of the fixture server.", {
      label: "mcp-die",
      timeoutMs: 60_000,
    });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    const calls = eventsOf(task.events, "tool-call-end");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.outcome).toBe("execution-failure");
    expect(calls[0]?.output).toMatch(/MCP_SERVER_UNAVAILABLE/);
    expect(eventsOf(task.events, "tool-repair-end")).toEqual([]);
    // The round itself completed with the failed call in it (an external tool is never sent for
    // repair: the tool developer cannot rewrite another server's tool).
    expect(record.usage.toolCalls).toBe(1);
    // The pool reconnects: the server's tools are listed again.
    const listed = await bus.request(ExternalToolsList, {});
    expect(listed.tools.map((tool) => tool.name)).toContain("fixture_reverse_text");
  });

  it("a hung server ends the call at its deadline with a timeout", async () => {
    const task = await submitTask(bus, "Ask the tool that will never answer.", {
      label: "mcp-hang",
      timeoutMs: 60_000,
    });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    const calls = eventsOf(task.events, "tool-call-end");
    expect(calls.map((call) => call.outcome)).toEqual(["timeout"]);
    expect(calls[0]?.output).toMatch(/TIMEOUT after 1500 ms/);
    const external = await bus.request(RegistryExternalStats, {});
    expect(external.byOutcome).toMatchObject({ success: 1, "execution-failure": 1, timeout: 1 });
  });
});
