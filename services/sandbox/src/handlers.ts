import type { Payload, Reply, SandboxCheck, SandboxExec, SandboxTest } from "@insitu/contracts";
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
  return {
    exec: (request) => sandbox.exec(request),
    check: (request) => checker.check(request.code),
    test: (request) => sandbox.test(request),
  };
}
