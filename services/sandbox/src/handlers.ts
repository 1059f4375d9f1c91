import type { Payload, Reply, SandboxCheck, SandboxExec, SandboxTest } from "@insitu/contracts";
import { inSpan } from "@insitu/telemetry";
import type { Checker } from "./check.js";
import type { Sandbox } from "./sandbox.js";

/** The endpoint handlers as plain functions (the bus wiring in main.ts only adapts them). */
export interface SandboxHandlers {
  /** The task id comes from the message context (the egress log names it). */
  exec(request: Payload<typeof SandboxExec> & { taskId?: string }): Promise<Reply<typeof SandboxExec>>;
  check(request: Payload<typeof SandboxCheck>): Promise<Reply<typeof SandboxCheck>>;
  test(request: Payload<typeof SandboxTest>): Promise<Reply<typeof SandboxTest>>;
}

export function createHandlers(sandbox: Sandbox, checker: Checker): SandboxHandlers {
  // Tracing hooks (docs/adr/0083): one span per sandbox call with its outcome; no-ops when off.
  return {
    exec: (request) =>
      inSpan("sandbox exec", { attributes: { "insitu.tool": request.tool.manifest.name } }, async (span) => {
        const outcome = await sandbox.exec(request);
        span.setAttributes({ "insitu.sandbox.outcome": outcome.status });
        return outcome;
      }),
    check: (request) =>
      inSpan("sandbox check", {}, async (span) => {
        const result = await checker.check(request.code);
        span.setAttributes({ "insitu.sandbox.outcome": result.ok ? "ok" : "type-errors" });
        return result;
      }),
    test: (request) =>
      inSpan("sandbox test", { attributes: { "insitu.tool": request.tool.manifest.name } }, async (span) => {
        const result = await sandbox.test(request);
        span.setAttributes({
          "insitu.sandbox.outcome": result.passed ? "passed" : "failed",
          "insitu.sandbox.tests": result.results.length,
        });
        return result;
      }),
  };
}
