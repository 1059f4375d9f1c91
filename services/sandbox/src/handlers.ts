import {
  type Payload,
  type Reply,
  type SandboxCheck,
  type SandboxExec,
  type SandboxTest,
  type Signer,
  signTestReport,
} from "@insitu/contracts";
import { inSpan } from "@insitu/telemetry";
import type { Checker } from "./check.js";
import type { Sandbox } from "./sandbox.js";
import type { ResolveTool } from "./tool-code.js";

/** The endpoint handlers as plain functions (the bus wiring in main.ts only adapts them). */
export interface SandboxHandlers {
  /** The task id comes from the message context (the egress log names it). */
  exec(request: Payload<typeof SandboxExec> & { taskId?: string }): Promise<Reply<typeof SandboxExec>>;
  check(request: Payload<typeof SandboxCheck>): Promise<Reply<typeof SandboxCheck>>;
  test(request: Payload<typeof SandboxTest>): Promise<Reply<typeof SandboxTest>>;
}

/**
 * `signer` is the sandbox's key: every test report it answers is signed over the code, manifest
 * and tests it ran (ADR 0125), so the registry can tell a real run from a claimed one.
 * `resolveTool` turns a registered tool's code hash into its code (ADR 0160); drafts carry theirs.
 */
export function createHandlers(
  sandbox: Sandbox,
  checker: Checker,
  signer: Signer,
  resolveTool: ResolveTool,
): SandboxHandlers {
  // Tracing hooks (docs/adr/0083): one span per sandbox call with its outcome; no-ops when off.
  return {
    exec: (request) =>
      inSpan("sandbox exec", { attributes: { "insitu.tool": request.tool.manifest.name } }, async (span) => {
        const outcome = await sandbox.exec({ ...request, tool: await resolveTool(request.tool) });
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
        const tool = await resolveTool(request.tool);
        const result = await sandbox.test({ ...request, tool });
        span.setAttributes({
          "insitu.sandbox.outcome": result.passed ? "passed" : "failed",
          "insitu.sandbox.tests": result.results.length,
        });
        const passed = result.results.filter((item) => item.passed).length;
        return {
          ...result,
          report: signTestReport(
            signer,
            { code: tool.code, manifest: tool.manifest, tests: request.tests },
            { total: result.results.length, passed },
          ),
        };
      }),
  };
}
