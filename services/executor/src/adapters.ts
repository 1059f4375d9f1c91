import type { Bus } from "@insitu/bus";
import { RegistryGet, ToolRepair } from "@insitu/contracts";
import { execToolInSandbox, recordToolCall } from "@insitu/roles";
import type { ReactDeps } from "./react.js";

export function toolPorts(
  bus: Bus,
  options: { sandboxTimeoutMs: number; repairTimeoutMs: number },
): Pick<ReactDeps, "getTool" | "exec" | "recordUsage" | "repair"> {
  return {
    async getTool(ref) {
      const record = await bus.request(RegistryGet, { by: "hash", hash: ref.version });
      return { manifest: record.manifest, code: record.code };
    },
    async exec(source, input, taskId) {
      return execToolInSandbox(bus, source, input, { timeoutMs: options.sandboxTimeoutMs, taskId });
    },
    async recordUsage(record) {
      await recordToolCall(bus, {
        callId: record.callId,
        taskId: record.taskId,
        hash: record.tool.version,
        outcome: record.outcome,
        sandboxStatus: record.sandboxStatus,
        latencyMs: record.durationMs,
      });
    },
    async repair(request) {
      return bus.request(ToolRepair, request, { timeoutMs: options.repairTimeoutMs, taskId: request.taskId });
    },
  };
}
