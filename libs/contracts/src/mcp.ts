// Contracts for MCP both ways (docs/adr/0085): the library served as an MCP server, and tools of
// operator-configured MCP servers ("external tools") used inside tasks. External tools are never
// registered, merged or copied into the library; they travel with a version string that names
// their server, so every consumer can tell them apart from built tools.
import { z } from "zod";
import { defineEndpoint } from "./define.js";
import { TaskId, ToolName } from "./envelope.js";
import { ToolCallOutcome } from "./task.js";

/**
 * Where a client learns that the library changed: the registry's KV bucket and its `current`
 * snapshot pointer (services/registry/src/documents.ts `Buckets.registry`, `Keys.current`). Every
 * commit (finish-task absorb, evolver absorb/merge, rollback, import) moves this key.
 */
export const LIBRARY_WATCH = { bucket: "registry", key: "current" } as const;

/** Prefix of a {@link ToolRef} version that names an external MCP tool instead of a content hash. */
export const EXTERNAL_VERSION_PREFIX = "mcp:";

/** `mcp:<server>/<tool>`: the ref version of an external tool. */
export function externalVersion(server: string, tool: string): string {
  return `${EXTERNAL_VERSION_PREFIX}${server}/${tool}`;
}

/** True when a tool ref (or a version string) names an external MCP tool. */
export function isExternalVersion(version: string): boolean {
  return version.startsWith(EXTERNAL_VERSION_PREFIX);
}

/** Server names in operator config: short lowercase words (they prefix the tools' names). */
export const McpServerName = z
  .string()
  .min(1)
  .max(24)
  .regex(/^[a-z][a-z0-9]*$/, "MCP server names are lowercase letters and digits");

export const ExternalToolSchema = z
  .object({
    /** The name the model sees: `<server>_<tool>` in snake_case. */
    name: ToolName,
    /** {@link externalVersion} of server and tool. */
    version: z.string().min(1).max(200),
    server: McpServerName,
    /** The tool's own name on its server. */
    tool: z.string().min(1).max(128),
    description: z.string().max(4000),
    inputSchema: z.record(z.string(), z.unknown()),
    outputSchema: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type ExternalTool = z.infer<typeof ExternalToolSchema>;

export const ExternalToolsList = defineEndpoint({
  service: "executor",
  name: "external-tools",
  subject: "executor.external-tools",
  version: 1,
  description:
    "The tools of the operator's MCP servers as the executor can call them (external tools: marked, never in the library). Servers that are down are listed in `unavailable`.",
  request: z.object({}).strict(),
  response: z
    .object({
      tools: z.array(ExternalToolSchema).max(1000),
      unavailable: z.array(z.object({ server: McpServerName, reason: z.string().max(2000) }).strict()),
    })
    .strict(),
});

/** One call of an external tool, as recorded (apart from built tools: never counted in EGL). */
export const ExternalUsageRecordSchema = z
  .object({
    callId: z.string().min(1).max(128),
    taskId: TaskId,
    name: ToolName,
    version: z.string().min(1).max(200),
    outcome: ToolCallOutcome,
    latencyMs: z.number().min(0),
    time: z.string().max(40).optional(),
  })
  .strict();
export type ExternalUsageRecord = z.infer<typeof ExternalUsageRecordSchema>;

export const ExternalUsageStatsSchema = z
  .object({
    /** External tool calls, all servers (never part of `toolCalls` or EGL). */
    calls: z.number().int().min(0),
    byOutcome: z.record(z.string(), z.number().int().min(0)),
    tools: z.array(
      z
        .object({
          name: ToolName,
          version: z.string().min(1).max(200),
          calls: z.number().int().min(0),
          successes: z.number().int().min(0),
        })
        .strict(),
    ),
  })
  .strict();
export type ExternalUsageStats = z.infer<typeof ExternalUsageStatsSchema>;

export const RegistryRecordExternalUsage = defineEndpoint({
  service: "registry",
  name: "record-external-usage",
  subject: "registry.record-external-usage",
  version: 1,
  description:
    "Records calls of external (MCP) tools apart from built tools: kept per tool, never counted in the library's tool calls or EGL. Idempotent per callId.",
  request: z.object({ calls: z.array(ExternalUsageRecordSchema).min(1).max(200) }).strict(),
  response: z.object({ recorded: z.number().int().min(0), duplicates: z.array(z.string()) }).strict(),
});

export const RegistryExternalStats = defineEndpoint({
  service: "registry",
  name: "external-stats",
  subject: "registry.external-stats",
  version: 1,
  description: "Usage of external (MCP) tools, counted apart from the library's convergence figures.",
  request: z.object({}).strict(),
  response: ExternalUsageStatsSchema,
});
