import { z } from "zod";
import { checkUntrustedSchema } from "./json-schema.js";
import { SECRET_NAME_PATTERN, classifyHost, formatNetworkTarget, parseNetworkTarget } from "./permissions.js";

/** `verb_target`, snake_case, e.g. `fetch_weather`, `parse_csv_table`. */
export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;

export const ToolNameSchema = z
  .string()
  .min(3)
  .max(64)
  .regex(TOOL_NAME_PATTERN, "tool names are snake_case verb_target, e.g. fetch_weather");

/** Hard ceilings a manifest may ask for; the operator's policy may lower them further. */
export const LimitCeilings = {
  timeoutMs: 120_000,
  memoryMb: 2048,
  outputBytes: 16 * 1024 * 1024,
} as const;

/** Defaults when a manifest names no limits. */
export const DefaultLimits = {
  timeoutMs: 10_000,
  memoryMb: 256,
  outputBytes: 1024 * 1024,
} as const;

const untrustedSchema = (requireObjectType: boolean) =>
  z.record(z.string(), z.unknown()).superRefine((schema, context) => {
    for (const issue of checkUntrustedSchema(schema, { requireObjectType })) {
      context.addIssue({ code: "custom", message: `${issue.path || "/"}: ${issue.message}` });
    }
  });

/** A model-written JSON Schema for a tool's input: an object schema, checked as untrusted. */
export const InputSchemaSchema = untrustedSchema(true);
/** A model-written JSON Schema for a tool's output, checked as untrusted. */
export const OutputSchemaSchema = untrustedSchema(false);

export const NetworkPermissionSchema = z
  .string()
  .max(260)
  .refine(
    (text) => {
      const target = parseNetworkTarget(text);
      return target !== undefined && formatNetworkTarget(target) === text;
    },
    {
      message:
        'must be a lowercase host or host:port (no scheme, path or wildcard), e.g. "api.example.com" or "api.example.com:8443"',
    },
  );

export const SecretNameSchema = z
  .string()
  .regex(SECRET_NAME_PATTERN, "secret names are environment variable names, UPPER_SNAKE");

/** The file access a tool may declare (see {@link ToolPermissionsSchema}). */
export const FilesPermissionSchema = z.enum(["task"]);

export const ToolPermissionsSchema = z
  .object({
    /** Hosts the tool fetches, `host` (any port) or `host:port`, matched literally. */
    network: z.array(NetworkPermissionSchema).max(16).default([]),
    /** Environment variable names the tool reads with `Deno.env.get`. */
    secrets: z.array(SecretNameSchema).max(16).default([]),
    /**
     * `task`: the tool works in its task's workspace — the task's files (attachments and what
     * earlier calls wrote) are in its working directory before it runs, and the files it creates or
     * changes there are kept for the task's later calls (on any sandbox replica). Absent: a scratch
     * directory that is gone after the call.
     */
    files: FilesPermissionSchema.optional(),
  })
  .strict();

export const ToolLimitsSchema = z
  .object({
    timeoutMs: z.number().int().min(10).max(LimitCeilings.timeoutMs).optional(),
    memoryMb: z.number().int().min(64).max(LimitCeilings.memoryMb).optional(),
    outputBytes: z.number().int().min(64).max(LimitCeilings.outputBytes).optional(),
  })
  .strict();

/**
 * The manifest a tool module exports as `export const manifest = {...}`.
 *
 * ```ts
 * export const manifest = {
 *   name: "fetch_weather",
 *   description: "Current temperature in °C for a city, from api.weather.example.",
 *   inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 *   outputSchema: { type: "object", properties: { celsius: { type: "number" } }, required: ["celsius"] },
 *   permissions: { network: ["api.weather.example"], secrets: ["WEATHER_API_KEY"] },
 *   limits: { timeoutMs: 5000 },
 * };
 * export default async function run(input: { city: string }): Promise<{ celsius: number }> { ... }
 * ```
 */
export const ToolManifestSchema = z
  .object({
    name: ToolNameSchema,
    /** What the tool does, for the model that picks tools: inputs, outputs, units, limits. */
    description: z.string().min(10).max(4000),
    inputSchema: InputSchemaSchema,
    outputSchema: OutputSchemaSchema,
    permissions: ToolPermissionsSchema.default({ network: [], secrets: [] }),
    limits: ToolLimitsSchema.optional(),
  })
  .strict();

export type ToolManifest = z.output<typeof ToolManifestSchema>;
export type ToolManifestInput = z.input<typeof ToolManifestSchema>;
export type ToolPermissions = z.output<typeof ToolPermissionsSchema>;
export type ToolLimits = z.output<typeof ToolLimitsSchema>;

/** Parses a manifest; on failure returns model-readable issues (`path: message`). */
export function parseManifest(
  value: unknown,
): { ok: true; manifest: ToolManifest } | { ok: false; issues: { path: string; message: string }[] } {
  const result = ToolManifestSchema.safeParse(value);
  if (result.success) return { ok: true, manifest: result.data };
  return {
    ok: false,
    issues: result.error.issues.slice(0, 20).map((issue) => ({
      path: `/${issue.path.map(String).join("/")}`,
      message: issue.message,
    })),
  };
}

/** Network declarations that name internal hosts (the operator must allow those explicitly). */
export function internalNetworkDeclarations(manifest: ToolManifest): { target: string; reason: string }[] {
  const found: { target: string; reason: string }[] = [];
  for (const target of manifest.permissions.network) {
    const parsed = parseNetworkTarget(target);
    const reason = parsed ? classifyHost(parsed.host) : "unparsable";
    if (reason) found.push({ target, reason });
  }
  return found;
}
