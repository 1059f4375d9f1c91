/**
 * Services that sign or verify evidence (ADR 0125) refuse to start without their keys, with an
 * error that names the variable: the executor and gateway (usage), the sandbox (test reports), the
 * registry and the evolver (trusted public keys). Real processes on a real nats-server.
 */
import { SigningKeyEnv } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import { startStack } from "../harness/stack.js";

describe("signing keys are required", () => {
  it("each service exits at start, naming the key variable it lacks", async () => {
    const wanted: Record<string, string> = {
      executor: SigningKeyEnv.executor,
      sandbox: SigningKeyEnv.sandbox,
      gateway: SigningKeyEnv.gateway,
      registry: SigningKeyEnv.trustedSandbox,
      evolver: SigningKeyEnv.trustedSandbox,
    };
    // An empty value counts as unset (parseConfig), so this blanks every key the stack generates.
    const blank = Object.fromEntries(Object.values(SigningKeyEnv).map((name) => [name, ""]));
    const stack = await startStack({
      services: Object.keys(wanted),
      env: { LOG_LEVEL: "warn", ...blank },
      serviceEnv: Object.fromEntries(Object.keys(wanted).map((service) => [service, blank])),
      allowFailures: true,
      readyTimeoutMs: 30_000,
      onLog: () => undefined,
    });
    try {
      expect(stack.failed.map((failure) => failure.name).sort()).toEqual(Object.keys(wanted).sort());
      for (const [service, variable] of Object.entries(wanted)) {
        const output = stack.logs(service).join("\n");
        expect(output, service).toContain("INVALID_CONFIG");
        expect(output, service).toContain(variable);
      }
      // The registry names both of its lists.
      expect(stack.logs("registry").join("\n")).toContain(SigningKeyEnv.trustedUsage);
    } finally {
      await stack.stop();
    }
  }, 120_000);
});
