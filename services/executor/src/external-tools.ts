import type { Bus, CallOnce } from "@insitu/bus";
import { type ExternalTool, RegistryRecordExternalUsage, isExternalVersion } from "@insitu/contracts";
import type { ExternalCallResult, McpClientPool } from "@insitu/mcp";
import type { ToolOutcome } from "@insitu/tool-kit";
import type { BoundToolSource, ReactDeps } from "./react.js";

type ToolPorts = Pick<ReactDeps, "getTool" | "exec" | "recordUsage" | "repair">;

/**
 * External (MCP) tools inside the executor's ReAct loop, additive to the built-tool ports: a ref
 * whose version is `mcp:<server>/<tool>` is bound from the MCP client pool (never from the
 * registry), called through the client, and recorded with `registry.record-external-usage` —
 * apart from built tools, so the library's tool calls and EGL never include them. With `once`, a
 * call with a key is made at most once (ADR 0094): a repeat gets the recorded outcome.
 */
export function withExternalTools(
  ports: ToolPorts,
  pool: McpClientPool,
  bus: Bus,
  once?: CallOnce<ToolOutcome>,
): ToolPorts {
  const external = new WeakMap<BoundToolSource, string>();
  return {
    ...ports,
    async getTool(ref) {
      if (!isExternalVersion(ref.version)) return ports.getTool(ref);
      const tool = await pool.find(ref.version).catch(() => undefined);
      const source: BoundToolSource = {
        manifest: tool ? manifestOf(tool) : unavailableManifest(ref.name),
        version: ref.version,
        codeHash: "",
        // An external server's secrets are the operator's servers file's business, not a grant.
        grantedSecrets: [],
      };
      external.set(source, ref.version);
      return source;
    },
    async exec(source, input, taskId, callKey) {
      const version = external.get(source);
      if (version === undefined) return ports.exec(source, input, taskId, callKey);
      const call = async () => outcomeOf(await pool.call(version, input));
      return once ? once.run(callKey, call) : call();
    },
    async recordUsage(record) {
      if (!isExternalVersion(record.tool.version)) return ports.recordUsage(record);
      await bus.request(
        RegistryRecordExternalUsage,
        {
          calls: [
            {
              callId: record.callId.slice(0, 128),
              taskId: record.taskId,
              name: record.tool.name,
              version: record.tool.version,
              outcome: record.outcome,
              latencyMs: record.durationMs,
            },
          ],
        },
        { taskId: record.taskId },
      );
    },
  };
}

function manifestOf(tool: ExternalTool): BoundToolSource["manifest"] {
  return {
    name: tool.name,
    description: `${tool.description} (external tool from MCP server ${tool.server})`.slice(0, 4000),
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema ?? { type: "object" },
    permissions: { network: [], secrets: [] },
  } as BoundToolSource["manifest"];
}

function unavailableManifest(name: string): BoundToolSource["manifest"] {
  return {
    name,
    description: "External MCP tool whose server is unavailable right now; calls fail.",
    inputSchema: { type: "object" },
    outputSchema: { type: "object" },
    permissions: { network: [], secrets: [] },
  } as BoundToolSource["manifest"];
}

/** An external call's result in the sandbox's outcome vocabulary, so classification is shared. */
export function outcomeOf(result: ExternalCallResult): ToolOutcome {
  switch (result.status) {
    case "ok":
      return { status: "ok", output: result.output, durationMs: result.durationMs };
    case "tool-error":
      return result.inputError
        ? {
            status: "INVALID_INPUT",
            issues: [{ path: "", message: result.message.slice(0, 2000) }],
            durationMs: result.durationMs,
          }
        : { status: "CRASH", message: result.message.slice(0, 2000), durationMs: result.durationMs };
    case "failed":
      if (result.error.code === "MCP_TOOL_TIMEOUT" && result.limitMs !== undefined) {
        return { status: "TIMEOUT", limitMs: result.limitMs, durationMs: result.durationMs };
      }
      return {
        status: "CRASH",
        message: `${result.error.code}: ${result.error.message}`.slice(0, 2000),
        durationMs: result.durationMs,
      };
  }
}
