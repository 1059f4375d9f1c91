import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { McpClientPool, externalToolName } from "./client-pool.js";
import { McpServersConfigSchema } from "./external-config.js";

/**
 * The executor's MCP client pool against a REAL stdio MCP server (the fixture under test/e2e, built
 * on the official SDK) spawned as a child process: listing, calling, secrets, and the failures a
 * task must see typed — bad arguments, a server that dies mid-call (then a reconnect), a hung call,
 * a server that cannot start.
 */
const FIXTURE = fileURLToPath(new URL("../../../test/e2e/fixtures/mcp-fixture-server.mjs", import.meta.url));

const pool = new McpClientPool(
  McpServersConfigSchema.parse({
    servers: {
      fixture: {
        command: process.execPath,
        args: [FIXTURE],
        secrets: ["MCP_FIXTURE_SECRET"],
        callTimeoutMs: 800,
      },
      broken: { command: "/nonexistent/mcp-server", connectTimeoutMs: 2000 },
    },
  }),
  { env: { MCP_FIXTURE_SECRET: "s3cret", OTHER_SECRET: "not-for-mcp" } },
);

afterAll(() => pool.close());

describe("McpClientPool (real stdio MCP server)", () => {
  it("lists the server's tools as marked external tools and reports a server that cannot start", async () => {
    const { tools, unavailable } = await pool.list();
    expect(tools.map((tool) => tool.name)).toEqual([
      "fixture_exit_now",
      "fixture_never_answer",
      "fixture_reverse_text",
      "fixture_secret_visible",
    ]);
    expect(tools.find((tool) => tool.name === "fixture_reverse_text")).toMatchObject({
      version: "mcp:fixture/reverse_text",
      server: "fixture",
      tool: "reverse_text",
      inputSchema: { type: "object", properties: { text: { type: "string" } } },
    });
    expect(unavailable).toEqual([{ server: "broken", reason: expect.stringMatching(/unavailable/) }]);
  });

  it("calls a tool and returns its structured output", async () => {
    const result = await pool.call("mcp:fixture/reverse_text", { text: "insitu" });
    expect(result).toMatchObject({ status: "ok", output: { reversed: "utisni", length: 6 } });
  });

  it("passes only the secrets the operator named to the server", async () => {
    expect(await pool.call("mcp:fixture/secret_visible", { name: "MCP_FIXTURE_SECRET" })).toMatchObject({
      status: "ok",
      output: { visible: true },
    });
    expect(await pool.call("mcp:fixture/secret_visible", { name: "OTHER_SECRET" })).toMatchObject({
      status: "ok",
      output: { visible: false },
    });
  });

  it("answers bad arguments as a typed input error", async () => {
    const result = await pool.call("mcp:fixture/reverse_text", { text: 42 });
    expect(result).toMatchObject({ status: "tool-error", inputError: true });
  });

  it("a server that dies mid-call gives MCP_SERVER_UNAVAILABLE, and the next call reconnects", async () => {
    const died = await pool.call("mcp:fixture/exit_now", {});
    expect(died.status).toBe("failed");
    if (died.status !== "failed") return;
    expect(died.error.code).toBe("MCP_SERVER_UNAVAILABLE");
    const again = await pool.call("mcp:fixture/reverse_text", { text: "ab" });
    expect(again).toMatchObject({ status: "ok", output: { reversed: "ba" } });
  });

  it("a hung call ends with MCP_TOOL_TIMEOUT at the server's deadline, not a hang", async () => {
    const started = Date.now();
    const hung = await pool.call("mcp:fixture/never_answer", {});
    expect(hung.status).toBe("failed");
    if (hung.status !== "failed") return;
    expect(hung.error.code).toBe("MCP_TOOL_TIMEOUT");
    expect(hung.limitMs).toBe(800);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("calls to an unavailable server or an unknown tool are typed failures", async () => {
    const unknown = await pool.call("mcp:fixture/no_such_tool", {});
    expect(unknown).toMatchObject({ status: "failed", error: { code: "MCP_TOOL_UNKNOWN" } });
  });

  it("maps MCP tool names to snake_case tool names, or refuses them", () => {
    expect(externalToolName("fixture", "getWeather")).toBe("fixture_get_weather");
    expect(externalToolName("files", "read-file")).toBe("files_read_file");
    expect(externalToolName("x", "é")).toBeUndefined();
  });
});
