import type { Bus } from "@insitu/bus";
import { RegistryGet, RegistryRecordUsage, SandboxExec, ToolRepair } from "@insitu/contracts";
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
      return bus.request(
        SandboxExec,
        {
          tool: { code: source.code, manifest: source.manifest },
          input,
          grantedSecrets: source.manifest.permissions.secrets,
          // Used by the sandbox for tools declaring `files: "task"` only.
          workspace: { taskId, tool: source.manifest.name },
        },
        { timeoutMs: options.sandboxTimeoutMs, taskId },
      );
    },
    async recordUsage(record) {
      await bus.request(
        RegistryRecordUsage,
        {
          calls: [
            {
              callId: record.callId.slice(0, 128),
              taskId: record.taskId,
              hash: record.tool.version,
              outcome: record.outcome,
              sandboxStatus: record.sandboxStatus,
              latencyMs: record.durationMs,
            },
          ],
        },
        { taskId: record.taskId },
      );
    },
    async repair(request) {
      return bus.request(ToolRepair, request, { timeoutMs: options.repairTimeoutMs, taskId: request.taskId });
    },
  };
}
