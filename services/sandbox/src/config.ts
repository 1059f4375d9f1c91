import { availableParallelism } from "node:os";
import { DefaultLimits, LimitCeilings, parseNetworkTarget, SECRET_NAME_PATTERN } from "@insitu/tool-kit";
import { z } from "zod";
import type { EnforcementMechanism } from "./enforcement.js";
import { type SandboxPolicy, defaultPolicy } from "./policy.js";

const csv = z
  .string()
  .default("")
  .transform((text) =>
    text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );
const flag = z
  .enum(["true", "false", "1", "0"])
  .default("true")
  .transform((text) => text === "true" || text === "1");

/** The sandbox's settings, from the environment (merged with the runtime's base settings). */
export const SandboxConfigSchema = z.object({
  /** Executions at once in this replica (default: CPU count). */
  SANDBOX_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(Math.max(1, availableParallelism())),
  /** Calls waiting for a slot before the replica answers SANDBOX_BUSY (retryable). */
  SANDBOX_MAX_QUEUE: z.coerce.number().int().min(0).max(10_000).default(64),
  /** Pre-spawned single-use processes per hot permission profile; 0 turns the warm path off. */
  SANDBOX_WARM_PER_PROFILE: z.coerce.number().int().min(0).max(16).default(1),
  /**
   * Most processes kept ready for one profile: its depth grows to the bursts it sees (ADR 0141).
   * Default 1 (off): see the ADR for why 6 is not the default yet.
   */
  SANDBOX_WARM_MAX_PER_PROFILE: z.coerce.number().int().min(0).max(32).default(1),
  /** Permission profiles kept warm. */
  SANDBOX_WARM_PROFILES: z.coerce.number().int().min(0).max(64).default(4),
  /** Whether public hosts a tool declares may be granted. */
  SANDBOX_ALLOW_PUBLIC_HOSTS: flag,
  /** Public hosts never granted (`host` or `host:port`, comma-separated). */
  SANDBOX_BLOCKED_HOSTS: csv,
  /** Internal hosts (loopback, private, metadata …) the operator explicitly allows, comma-separated. */
  SANDBOX_INTERNAL_HOSTS: csv,
  /**
   * Environment variables of this service that tools may be granted as secrets: `NAME`, or
   * `NAME@host[:port]` (repeatable) to bind the secret to the hosts it may be sent to.
   */
  SANDBOX_SECRETS: csv,
  SANDBOX_MAX_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(LimitCeilings.timeoutMs)
    .default(LimitCeilings.timeoutMs),
  SANDBOX_MAX_MEMORY_MB: z.coerce.number().int().min(64).max(LimitCeilings.memoryMb).default(1024),
  SANDBOX_MAX_OUTPUT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(LimitCeilings.outputBytes)
    .default(LimitCeilings.outputBytes),
  SANDBOX_DEFAULT_TIMEOUT_MS: z.coerce.number().int().min(100).default(DefaultLimits.timeoutMs),
  SANDBOX_DEFAULT_MEMORY_MB: z.coerce.number().int().min(64).default(DefaultLimits.memoryMb),
  /** Wall time of one `deno check` of a tool (CPU seconds are capped alike); raise it on a loaded host. */
  /** Bytes of registered tools' code kept by content hash, in MiB (ADR 0160); 0 fetches every call. */
  SANDBOX_CODE_CACHE_MB: z.coerce.number().int().min(0).max(4096).default(64),
  SANDBOX_CHECK_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /**
   * `resident` keeps TypeScript loaded with Deno's declarations in a child process (a check in tens
   * of ms, docs/adr/0087); `deno` runs `deno check` for each module (~1.3 s each).
   */
  SANDBOX_TYPE_CHECKER: z.enum(["resident", "deno"]).default("resident"),
  /** `auto` picks cgroup v2, then v1, then prlimit; naming one forces it (for tests and odd hosts). */
  SANDBOX_LIMITS: z.enum(["auto", "cgroup-v2", "cgroup-v1", "prlimit"]).default("auto"),
  /** Deno binary; default: the npm platform package's. */
  SANDBOX_DENO_PATH: z.string().optional(),
  /** Body bytes one call may move through the egress proxy, both directions together. */
  SANDBOX_EGRESS_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
  /** What one call's work dir may hold, MiB (polled every 20 ms; the disk cap that holds without root). */
  SANDBOX_WORK_QUOTA_MB: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .default(256),
  /** Entries (files, folders, links) one call's work dir may hold. */
  SANDBOX_WORK_QUOTA_FILES: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  /**
   * Refuse to start unless every per-call limit is exact (cgroup memory and pids, work dirs on the
   * sandbox's tmpfs): for sites that would rather not run than run with prlimit stand-ins (ADR 0135).
   */
  SANDBOX_REQUIRE_EXACT_LIMITS: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((text) => text === "true" || text === "1"),
  /** Size of the tmpfs over the work dirs in MiB (root only); 0 keeps work dirs on disk. */
  SANDBOX_WORK_TMPFS_MB: z.coerce.number().int().min(0).default(2048),
});
export type SandboxConfig = z.infer<typeof SandboxConfigSchema>;

/** The operator policy from the config; secret values are read from `env` by the names listed. */
export function buildPolicy(config: SandboxConfig, env: Record<string, string | undefined>): SandboxPolicy {
  const secrets: Record<string, string> = {};
  const secretHosts: Record<string, string[]> = {};
  for (const entry of config.SANDBOX_SECRETS) {
    const [name = "", host] = entry.split("@", 2);
    if (!SECRET_NAME_PATTERN.test(name))
      throw new TypeError(`SANDBOX_SECRETS: ${name} is not an UPPER_SNAKE name`);
    // The service's own bus credentials are never a tool's secret (docs/adr/0120).
    if (/^NATS_/.test(name))
      throw new TypeError(`SANDBOX_SECRETS: ${name} is the bus's; tools never hold bus credentials`);
    if (host !== undefined) {
      if (!parseNetworkTarget(host))
        throw new TypeError(`SANDBOX_SECRETS: ${entry}: ${host} is not host[:port]`);
      secretHosts[name] = [...(secretHosts[name] ?? []), host];
    }
    const value = env[name];
    if (value !== undefined) secrets[name] = value;
  }
  return defaultPolicy({
    allowPublicHosts: config.SANDBOX_ALLOW_PUBLIC_HOSTS,
    blockedHosts: config.SANDBOX_BLOCKED_HOSTS,
    internalHosts: config.SANDBOX_INTERNAL_HOSTS,
    secrets,
    secretHosts,
    maxLimits: {
      timeoutMs: config.SANDBOX_MAX_TIMEOUT_MS,
      memoryMb: config.SANDBOX_MAX_MEMORY_MB,
      outputBytes: config.SANDBOX_MAX_OUTPUT_BYTES,
    },
    defaultLimits: {
      timeoutMs: config.SANDBOX_DEFAULT_TIMEOUT_MS,
      memoryMb: config.SANDBOX_DEFAULT_MEMORY_MB,
      outputBytes: DefaultLimits.outputBytes,
    },
  });
}

export function forcedMechanism(config: SandboxConfig): EnforcementMechanism | undefined {
  return config.SANDBOX_LIMITS === "auto" ? undefined : (config.SANDBOX_LIMITS as EnforcementMechanism);
}
