import type { Bus } from "@insitu/bus";
import { type Signer, ToolRepair } from "@insitu/contracts";
import {
  DEFAULT_SANDBOX_RETRY_WINDOW_MS,
  bindTool,
  execToolInSandbox,
  recordToolCall,
  withinRetryWindow,
} from "@insitu/roles";
import type { Logger } from "@insitu/telemetry";
import type { ApprovalPolicy } from "@insitu/tool-kit";
import type { ReactDeps } from "./react.js";

export function toolPorts(
  bus: Bus,
  options: {
    sandboxTimeoutMs: number;
    repairTimeoutMs: number;
    retryWindowMs?: number;
    logger?: Logger;
    /** The operator's approval policy: which declared secrets a version is granted (ADR 0130). */
    approvalPolicy: ApprovalPolicy;
    /** The executor's key: signs every usage batch it records (ADR 0125). */
    signer: Signer;
  },
): Pick<ReactDeps, "getTool" | "exec" | "recordUsage" | "repair"> {
  return {
    async getTool(ref) {
      // Manifest and code hash only (ADR 0160). Read per binding, with the version's review as the
      // registry has it now: a secret the policy sends to review is granted only once this very
      // version was approved.
      return bindTool(bus, ref.version, options.approvalPolicy);
    },
    async exec(source, input, taskId, callKey) {
      // A sandbox down or dying mid-call is retried within the window (ADR 0094); the call key
      // makes the retry safe when the first attempt's outcome was recorded but its reply lost.
      return withinRetryWindow(
        () =>
          execToolInSandbox(bus, source, input, {
            timeoutMs: options.sandboxTimeoutMs,
            taskId,
            ...(callKey ? { callKey } : {}),
          }),
        {
          windowMs: options.retryWindowMs ?? DEFAULT_SANDBOX_RETRY_WINDOW_MS,
          onRetry: (failure, attempt, delayMs) =>
            options.logger?.warn("sandbox unavailable; retrying the tool call within the window", {
              taskId,
              tool: source.manifest.name,
              attempt,
              delayMs,
              reason: failure.details.reason ?? failure.message,
            }),
        },
      );
    },
    async recordUsage(record) {
      await recordToolCall(bus, options.signer, {
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
