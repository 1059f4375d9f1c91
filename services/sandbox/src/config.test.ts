import { parseConfig } from "@insitu/config";
import { describe, expect, it } from "vitest";
import { SandboxConfigSchema, buildPolicy, forcedMechanism } from "./config.js";

describe("sandbox config", () => {
  it("builds the operator policy; secret values come from the environment by name", () => {
    const env = {
      SANDBOX_INTERNAL_HOSTS: "127.0.0.1:8080, 10.0.0.5",
      SANDBOX_BLOCKED_HOSTS: "ads.example.com",
      SANDBOX_SECRETS: "WEATHER_KEY,MISSING_KEY",
      SANDBOX_ALLOW_PUBLIC_HOSTS: "false",
      SANDBOX_MAX_MEMORY_MB: "512",
      SANDBOX_LIMITS: "prlimit",
      WEATHER_KEY: "abc",
    };
    const config = parseConfig(SandboxConfigSchema, env);
    const policy = buildPolicy(config, env);
    expect(policy).toMatchObject({
      allowPublicHosts: false,
      internalHosts: ["127.0.0.1:8080", "10.0.0.5"],
      blockedHosts: ["ads.example.com"],
      secrets: { WEATHER_KEY: "abc" },
      maxLimits: { memoryMb: 512 },
    });
    expect(forcedMechanism(config)).toBe("prlimit");
    expect(forcedMechanism(parseConfig(SandboxConfigSchema, {}))).toBeUndefined();
  });

  it("refuses a secret name that is not an environment variable name", () => {
    const env = { SANDBOX_SECRETS: "lower_case" };
    expect(() => buildPolicy(parseConfig(SandboxConfigSchema, env), env)).toThrow(/UPPER_SNAKE/);
  });
});
