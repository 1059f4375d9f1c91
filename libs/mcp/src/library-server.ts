import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { ToolOutcome } from "@insitu/tool-kit";
import { ASK_INSITU, type TaskPort, askInsituTool, askResult, describeEvent } from "./ask-insitu.js";
import type { McpCallPolicy } from "./call-policy.js";
import type { LibraryCatalog, LibraryTool } from "./library-catalog.js";
import { type SessionLimitOptions, SessionLimiter } from "./session-limits.js";

export const SERVER_INFO = { name: "insitu-library", version: "0.1.0" } as const;

export interface LibraryServerOptions {
  catalog: LibraryCatalog;
  policy: McpCallPolicy;
  limits: SessionLimitOptions;
  /** Identifies this session's calls in usage records (`mcp-…`, a valid task id). */
  callerId: string;
  onError?: (error: unknown, context: string) => void;
  /** When given, the `ask_insitu` tool (a whole task, progress as notifications) is served too. */
  tasks?: TaskPort;
}

/** Metadata keys under `_meta` of each listed tool. */
export const MetaKey = {
  version: "insitu/version",
  snapshot: "insitu/snapshot",
  stats: "insitu/stats",
  review: "insitu/review",
} as const;

/**
 * One MCP server session over the library: `tools/list` is the current snapshot, `tools/call`
 * runs the tool in the sandbox, and every change of the library's tool set is pushed as
 * `notifications/tools/list_changed`. The low-level `Server` is used (not `McpServer`) because
 * the tools are data with JSON Schemas, not code registered at start.
 */
export function createLibraryServer(options: LibraryServerOptions): { server: Server; close(): void } {
  const { catalog, policy } = options;
  const limiter = new SessionLimiter(options.limits);
  const onError = options.onError ?? (() => {});
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: true } },
    instructions:
      "The tools of insitu's evolving library: each is tested, versioned and runs in a Deno sandbox. The list grows and improves while insitu works; watch for tools/list_changed.",
  });
  let sequence = 0;

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    await catalog.ready();
    const tools = catalog
      .list()
      .filter((tool) => !(options.tasks && tool.name === ASK_INSITU))
      .map((tool) => toMcpTool(tool, catalog.snapshot, policy));
    return { tools: options.tasks ? [askInsituTool, ...tools] : tools };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    await catalog.ready();
    const name = request.params.name;
    if (name === ASK_INSITU && options.tasks) {
      const tasks = options.tasks;
      const args = (request.params.arguments ?? {}) as { question?: unknown; rounds?: unknown };
      const question = typeof args.question === "string" ? args.question.trim() : "";
      const rounds = args.rounds;
      if (question.length === 0 || question.length > 50_000) {
        return toolError(
          "invalid arguments for ask_insitu: question must be a non-empty string (at most 50,000 characters)",
        );
      }
      if (
        rounds !== undefined &&
        !(Number.isInteger(rounds) && (rounds as number) >= 1 && (rounds as number) <= 10)
      ) {
        return toolError("invalid arguments for ask_insitu: rounds must be an integer from 1 to 10");
      }
      const slot = limiter.acquire();
      if (!slot.ok) return toolError(slot.reason);
      const progressToken = request.params._meta?.progressToken;
      let progress = 0;
      try {
        const record = await tasks.ask(
          {
            question,
            ...(rounds === undefined ? {} : { rounds: rounds as number }),
            callerId: options.callerId,
          },
          (event) => {
            const message = describeEvent(event);
            if (progressToken === undefined || message === undefined) return;
            extra
              .sendNotification({
                method: "notifications/progress",
                params: { progressToken, progress: ++progress, message },
              })
              .catch((error: unknown) => onError(error, "sending progress"));
          },
          extra.signal,
        );
        const result = askResult(record);
        return {
          content: [{ type: "text", text: JSON.stringify(result) }],
          structuredContent: result,
          ...(record.status === "succeeded" ? {} : { isError: true }),
        };
      } catch (error) {
        onError(error, "ask_insitu");
        return toolError(`insitu could not run the task: ${(error as Error).message}`);
      } finally {
        slot.release();
      }
    }
    const tool = catalog.get(name);
    if (!tool) {
      return toolError(
        `no tool named ${name} in the library (snapshot ${catalog.snapshot}); list the tools again`,
      );
    }
    const refusal = policy.review(tool.manifest);
    if (refusal) return toolError(refusal);
    const slot = limiter.acquire();
    if (!slot.ok) return toolError(slot.reason);
    const callId = `${options.callerId}.${++sequence}`;
    try {
      const source = await catalog.port.source(tool.hash);
      const outcome = await catalog.port.exec(source, request.params.arguments ?? {}, options.callerId);
      catalog.port
        .record({
          callId,
          callerId: options.callerId,
          hash: tool.hash,
          outcome: outcome.status,
          latencyMs: outcome.durationMs,
        })
        .catch((error: unknown) => onError(error, `recording usage of ${name}`));
      return toCallResult(outcome, tool);
    } catch (error) {
      onError(error, `calling ${name}`);
      return toolError(`insitu could not run ${name}: ${(error as Error).message}`);
    } finally {
      slot.release();
    }
  });

  const unsubscribe = catalog.onChange(() => {
    server.sendToolListChanged().catch((error: unknown) => onError(error, "sending tools/list_changed"));
  });
  return {
    server,
    close() {
      unsubscribe();
    },
  };
}

export function toMcpTool(tool: LibraryTool, snapshot: number, policy: McpCallPolicy): Tool {
  const { manifest } = tool;
  const refusal = policy.review(manifest);
  const outputSchema = manifest.outputSchema as Record<string, unknown>;
  return {
    name: tool.name,
    description: refusal ? `${manifest.description}\n\n(Listed only: ${refusal}.)` : manifest.description,
    inputSchema: {
      ...(manifest.inputSchema as Record<string, unknown>),
      type: "object",
    } as Tool["inputSchema"],
    ...(outputSchema.type === "object" ? { outputSchema: outputSchema as Tool["outputSchema"] } : {}),
    _meta: {
      [MetaKey.version]: tool.hash,
      [MetaKey.snapshot]: snapshot,
      [MetaKey.stats]: {
        calls: tool.usage.calls,
        successRate: tool.usage.successRate,
        reuseCalls: tool.usage.reuseCalls,
        tasks: tool.usage.tasks,
        meanLatencyMs: tool.usage.meanLatencyMs,
        ...(tool.usage.lastCallAt ? { lastCallAt: tool.usage.lastCallAt } : {}),
      },
      ...(refusal ? { [MetaKey.review]: refusal } : {}),
    },
  };
}

function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

/** A sandbox outcome as an MCP result: structured content on success, a readable error otherwise. */
export function toCallResult(outcome: ToolOutcome, tool: LibraryTool): CallToolResult {
  switch (outcome.status) {
    case "ok": {
      const output = outcome.output;
      const structured =
        typeof output === "object" && output !== null && !Array.isArray(output)
          ? (output as Record<string, unknown>)
          : undefined;
      const text = JSON.stringify(output) ?? "null";
      // A tool that declares an object output always returns one (the sandbox checked it).
      return structured
        ? { content: [{ type: "text", text }], structuredContent: structured }
        : { content: [{ type: "text", text }] };
    }
    case "INVALID_INPUT":
      return toolError(
        `invalid arguments for ${tool.name}: ${outcome.issues.map((issue) => `${issue.path || "/"} ${issue.message}`).join("; ")}; fix these fields and call again`,
      );
    case "INVALID_OUTPUT":
      return toolError(
        `${tool.name} returned output that does not match its schema: ${outcome.issues.map((issue) => `${issue.path || "/"} ${issue.message}`).join("; ")}`,
      );
    case "CRASH":
      return toolError(`${tool.name} failed: ${outcome.message}`);
    case "PERMISSION_DENIED":
      return toolError(
        `${tool.name} was denied ${outcome.permission.kind}${outcome.permission.target ? ` ${outcome.permission.target}` : ""} by the sandbox policy: ${outcome.message}`,
      );
    case "TIMEOUT":
      return toolError(`${tool.name} timed out after ${outcome.limitMs} ms`);
    case "MEMORY_LIMIT":
      return toolError(`${tool.name} went over its memory limit of ${outcome.limitMb} MB`);
    case "OUTPUT_LIMIT":
      return toolError(`${tool.name} produced more than ${outcome.limitBytes} bytes of output`);
  }
}
