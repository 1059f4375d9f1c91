import type { Bus, KvBucket } from "@insitu/bus";
import {
  ManagerWork,
  RegistryGet,
  RegistryRecordUsage,
  SandboxExec,
  TaskEvents,
  type TaskEvent,
  ToolRepair,
  stepKey,
  workMessageId,
} from "@insitu/contracts";
import type { ReactDeps } from "./react.js";
import type { StepStore } from "./service.js";

export function kvSteps(kv: KvBucket): StepStore {
  return {
    async get(taskId, step) {
      return (await kv.get(stepKey(taskId, step)))?.value;
    },
    async put(taskId, step, value) {
      await kv.put(stepKey(taskId, step), value);
    },
  };
}

export function notifyManager(bus: Bus) {
  return (taskId: string, step: string) =>
    bus.enqueue(
      ManagerWork,
      { taskId, kind: "execution-done", step },
      { id: workMessageId("manager", taskId, `execution-done.${step}`), taskId },
    );
}

export function publishEvent(bus: Bus) {
  return (event: TaskEvent) => bus.publish(TaskEvents, event, { token: event.taskId, taskId: event.taskId });
}

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
