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

  it("binds a secret to hosts with NAME@host[:port], repeatable", () => {
    const env = {
      SANDBOX_SECRETS: "TAVILY_API_KEY@api.tavily.com:443,TAVILY_API_KEY@api2.tavily.com",
      TAVILY_API_KEY: "k",
    };
    const policy = buildPolicy(parseConfig(SandboxConfigSchema, env), env);
    expect(policy.secrets).toEqual({ TAVILY_API_KEY: "k" });
    expect(policy.secretHosts).toEqual({ TAVILY_API_KEY: ["api.tavily.com:443", "api2.tavily.com"] });
    const bad = { SANDBOX_SECRETS: "TAVILY_API_KEY@not a host" };
    expect(() => buildPolicy(parseConfig(SandboxConfigSchema, bad), bad)).toThrow(/host\[:port\]/);
  });

  it("refuses to hand the bus credentials to tools, even when the operator lists them", () => {
    for (const name of ["NATS_PASSWORD", "NATS_USER", "NATS_URL"]) {
      const env = { SANDBOX_SECRETS: `WEATHER_KEY,${name}`, [name]: "bus-secret" };
      expect(() => buildPolicy(parseConfig(SandboxConfigSchema, env), env)).toThrow(
        /never hold bus credentials/,
      );
    }
  });

  it("refuses a secret name that is not an environment variable name", () => {
    const env = { SANDBOX_SECRETS: "lower_case" };
    expect(() => buildPolicy(parseConfig(SandboxConfigSchema, env), env)).toThrow(/UPPER_SNAKE/);
  });
});
