import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode as McpErrorCode, McpError, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { type ExternalTool, ToolName, externalVersion } from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import type { McpServerConfig, McpServersConfig } from "./external-config.js";

/** Typed error codes of calls to external MCP servers. */
export const McpClientErrorCode = {
  /** The server could not be started or reached, or it exited / dropped the connection mid-call. */
  unavailable: "MCP_SERVER_UNAVAILABLE",
  /** The call did not answer within the server's `callTimeoutMs`. */
  timeout: "MCP_TOOL_TIMEOUT",
  /** No such tool (any more) on that server. */
  unknownTool: "MCP_TOOL_UNKNOWN",
} as const;

/** What one external call ended with; never a throw, never a hang. */
export type ExternalCallResult =
  | { status: "ok"; output: unknown; durationMs: number }
  /** The tool answered `isError` (its own failure, or bad arguments when `inputError`). */
  | { status: "tool-error"; message: string; inputError: boolean; durationMs: number }
  | { status: "failed"; error: InsituError; limitMs?: number; durationMs: number };

interface ServerState {
  name: string;
  config: McpServerConfig;
  client?: Client;
  transport?: Transport;
  connecting?: Promise<Client>;
  tools: ExternalTool[];
  lastError?: string;
  /** Recent stderr of a stdio server (for the error a task sees when it dies). */
  stderr: string;
  /** No reconnect before this time after a failed connect (ms since epoch). */
  retryAt: number;
}

/** Backoff after a failed connect, so a broken server is not respawned on every call. */
const RECONNECT_BACKOFF_MS = 2000;

/** `<server>_<tool>` in snake_case (the model-facing name), or undefined when it cannot be one. */
export function externalToolName(server: string, tool: string): string | undefined {
  const snake = `${server}_${tool}`
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return ToolName.safeParse(snake).success ? snake : undefined;
}

/**
 * The executor's connections to the operator's MCP servers. Connects lazily, keeps each server's
 * tool list current (it follows the server's own list_changed), reconnects after a server died,
 * and turns every failure into a typed result: a dead or hung server costs a task one failed call,
 * never a hang.
 */
export class McpClientPool {
  private readonly servers = new Map<string, ServerState>();

  constructor(
    config: McpServersConfig,
    private readonly options: {
      /** Where the secrets a server is given come from (the executor's environment). */
      env: Readonly<Record<string, string | undefined>>;
      onLog?: (message: string, details: Record<string, unknown>) => void;
    },
  ) {
    for (const [name, server] of Object.entries(config.servers)) {
      this.servers.set(name, { name, config: server, tools: [], stderr: "", retryAt: 0 });
    }
  }

  get serverNames(): string[] {
    return [...this.servers.keys()];
  }

  /** Every reachable server's tools; the others in `unavailable` with the reason. */
  async list(): Promise<{ tools: ExternalTool[]; unavailable: { server: string; reason: string }[] }> {
    const tools: ExternalTool[] = [];
    const unavailable: { server: string; reason: string }[] = [];
    await Promise.all(
      [...this.servers.values()].map(async (state) => {
        try {
          await this.ensure(state);
          tools.push(...state.tools);
        } catch (error) {
          unavailable.push({ server: state.name, reason: (error as Error).message.slice(0, 2000) });
        }
      }),
    );
    tools.sort((left, right) => (left.name < right.name ? -1 : 1));
    return { tools, unavailable };
  }

  /** The external tool a ref version names, from the lists seen so far (connecting when needed). */
  async find(version: string): Promise<ExternalTool | undefined> {
    const known = this.known(version);
    if (known) return known;
    await this.list();
    return this.known(version);
  }

  private known(version: string): ExternalTool | undefined {
    for (const state of this.servers.values()) {
      const tool = state.tools.find((item) => item.version === version);
      if (tool) return tool;
    }
    return undefined;
  }

  /** Calls one external tool with the server's deadline. */
  async call(version: string, input: unknown, signal?: AbortSignal): Promise<ExternalCallResult> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    const tool = await this.find(version).catch(() => undefined);
    const state = tool ? this.servers.get(tool.server) : undefined;
    if (!tool || !state) {
      return {
        status: "failed",
        error: new InsituError(`no external tool ${version} on the configured MCP servers`, {
          code: McpClientErrorCode.unknownTool,
          category: ErrorCategory.thirdParty,
          details: { version },
        }),
        durationMs: elapsed(),
      };
    }
    let client: Client;
    try {
      client = await this.ensure(state);
    } catch (error) {
      return { status: "failed", error: InsituError.from(error), durationMs: elapsed() };
    }
    const limitMs = state.config.callTimeoutMs;
    try {
      const result = await client.callTool(
        { name: tool.tool, arguments: (input ?? {}) as Record<string, unknown> },
        undefined,
        { timeout: limitMs, ...(signal ? { signal } : {}) },
      );
      const text = Array.isArray(result.content)
        ? result.content
            .map((part) => (part.type === "text" ? part.text : `[${part.type}]`))
            .join("\n")
            .slice(0, 8000)
        : "";
      if (result.isError) {
        return {
          status: "tool-error",
          message: text || "the tool reported an error",
          inputError: /-32602|invalid (arguments|params)|input validation/i.test(text),
          durationMs: elapsed(),
        };
      }
      const output = result.structuredContent ?? parseText(text);
      return { status: "ok", output, durationMs: elapsed() };
    } catch (error) {
      if (error instanceof McpError && error.code === McpErrorCode.RequestTimeout) {
        return {
          status: "failed",
          error: new InsituError(
            `${tool.name} on MCP server ${state.name} did not answer within ${limitMs} ms`,
            {
              code: McpClientErrorCode.timeout,
              category: ErrorCategory.thirdParty,
              retryable: true,
              details: { server: state.name, tool: tool.tool, limitMs },
            },
          ),
          limitMs,
          durationMs: elapsed(),
        };
      }
      if (error instanceof McpError && error.code === McpErrorCode.InvalidParams) {
        return { status: "tool-error", message: error.message, inputError: true, durationMs: elapsed() };
      }
      // Connection closed or the process died: drop the client so the next call reconnects.
      this.disconnect(state, (error as Error).message);
      return {
        status: "failed",
        error: new InsituError(
          `MCP server ${state.name} failed during ${tool.tool}: ${(error as Error).message}${state.stderr ? ` (stderr: ${state.stderr.slice(-500).trim()})` : ""}`,
          {
            code: McpClientErrorCode.unavailable,
            category: ErrorCategory.thirdParty,
            retryable: true,
            details: { server: state.name, tool: tool.tool },
            cause: error,
          },
        ),
        durationMs: elapsed(),
      };
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.servers.values()].map(async (state) => {
        const client = state.client;
        state.client = undefined;
        await client?.close().catch(() => {});
      }),
    );
  }

  private disconnect(state: ServerState, reason: string): void {
    const client = state.client;
    state.client = undefined;
    state.lastError = reason;
    client?.close().catch(() => {});
  }

  private ensure(state: ServerState): Promise<Client> {
    if (state.client) return Promise.resolve(state.client);
    if (state.connecting) return state.connecting;
    if (Date.now() < state.retryAt) {
      return Promise.reject(this.unavailable(state, state.lastError ?? "connecting failed recently"));
    }
    state.connecting = this.connect(state).finally(() => {
      state.connecting = undefined;
    });
    return state.connecting;
  }

  private async connect(state: ServerState): Promise<Client> {
    const { config } = state;
    const client = new Client(
      { name: "insitu-executor", version: "0.1.0" },
      {
        listChanged: {
          tools: {
            onChanged: (error, tools) => {
              if (!error && tools && state.client === client) state.tools = this.toExternal(state, tools);
            },
          },
        },
      },
    );
    const transport = this.transportFor(state);
    state.stderr = "";
    client.onclose = () => {
      if (state.client === client) {
        state.client = undefined;
        state.lastError = `connection closed${state.stderr ? ` (stderr: ${state.stderr.slice(-500).trim()})` : ""}`;
        this.options.onLog?.("MCP server connection closed", { server: state.name });
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${config.connectTimeoutMs} ms while connecting`)),
        config.connectTimeoutMs,
      );
    });
    try {
      await Promise.race([client.connect(transport), deadline]);
      const listed = await Promise.race([
        client.listTools(undefined, { timeout: config.connectTimeoutMs }),
        deadline,
      ]);
      state.tools = this.toExternal(state, listed.tools);
      state.client = client;
      state.lastError = undefined;
      return client;
    } catch (error) {
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
      state.retryAt = Date.now() + RECONNECT_BACKOFF_MS;
      state.lastError = `${(error as Error).message}${state.stderr ? ` (stderr: ${state.stderr.slice(-500).trim()})` : ""}`;
      throw this.unavailable(state, state.lastError);
    } finally {
      clearTimeout(timer);
    }
  }

  private transportFor(state: ServerState): Transport {
    const { config } = state;
    const secrets: Record<string, string> = {};
    for (const name of config.secrets) {
      const value = this.options.env[name];
      if (value !== undefined) secrets[name] = value;
    }
    if (config.command) {
      const transport = new StdioClientTransport({
        command: config.command,
        args: config.args,
        // Only the default variables (PATH, HOME, …) and the secrets the operator named.
        env: { ...getDefaultEnvironment(), ...secrets },
        stderr: "pipe",
      });
      transport.stderr?.on("data", (chunk: Buffer) => {
        state.stderr = (state.stderr + chunk.toString("utf8")).slice(-4000);
      });
      return transport;
    }
    const bearer = config.bearerSecret ? this.options.env[config.bearerSecret] : undefined;
    return new StreamableHTTPClientTransport(new URL(config.url as string), {
      requestInit: { headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) } },
    });
  }

  private toExternal(state: ServerState, tools: Tool[]): ExternalTool[] {
    const result: ExternalTool[] = [];
    for (const tool of tools) {
      const name = externalToolName(state.name, tool.name);
      if (!name) {
        this.options.onLog?.("MCP tool skipped: its name cannot be made a tool name", {
          server: state.name,
          tool: tool.name,
        });
        continue;
      }
      result.push({
        name,
        version: externalVersion(state.name, tool.name),
        server: state.name,
        tool: tool.name,
        description: (tool.description ?? tool.title ?? tool.name).slice(0, 4000),
        inputSchema: tool.inputSchema as Record<string, unknown>,
        ...(tool.outputSchema ? { outputSchema: tool.outputSchema as Record<string, unknown> } : {}),
      });
    }
    return result;
  }

  private unavailable(state: ServerState, reason: string): InsituError {
    return new InsituError(`MCP server ${state.name} is unavailable: ${reason}`, {
      code: McpClientErrorCode.unavailable,
      category: ErrorCategory.thirdParty,
      retryable: true,
      details: { server: state.name },
    });
  }
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}
