import { readFileSync } from "node:fs";
import { McpServerName } from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { SECRET_NAME_PATTERN } from "@insitu/tool-kit";
import { z } from "zod";

const SecretName = z
  .string()
  .regex(SECRET_NAME_PATTERN, "secret names are environment variable names (UPPER_SNAKE)");

/** One MCP server the operator lets tasks use. Exactly one of `command` (stdio) or `url` (Streamable HTTP). */
export const McpServerConfigSchema = z
  .object({
    /** Program to spawn for a stdio server. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).max(100).default([]),
    /** Streamable HTTP endpoint of a remote server. */
    url: z.string().url().optional(),
    /**
     * Environment variable names this server receives from the executor's environment (stdio:
     * in its env; nothing else of the executor's env is passed beyond PATH/HOME and the like).
     */
    secrets: z.array(SecretName).max(32).default([]),
    /** For a URL server: the secret sent as `Authorization: Bearer <value>`. */
    bearerSecret: SecretName.optional(),
    /** Deadline of one tool call (then a typed TIMEOUT, and the call is abandoned). */
    callTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
    /** Deadline of connecting and listing the tools. */
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(15_000),
  })
  .strict()
  .refine((server) => (server.command === undefined) !== (server.url === undefined), {
    message: "give exactly one of `command` (stdio) or `url` (Streamable HTTP)",
  });
export type McpServerConfig = z.output<typeof McpServerConfigSchema>;

export const McpServersConfigSchema = z
  .object({ servers: z.record(McpServerName, McpServerConfigSchema) })
  .strict();
export type McpServersConfig = z.output<typeof McpServersConfigSchema>;

/** Reads and checks the operator's MCP servers file (`INSITU_MCP_CONFIG`); a bad file is a typed user error. */
export function loadMcpServersConfig(path: string): McpServersConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InsituError(`cannot read the MCP servers file ${path}: ${(error as Error).message}`, {
      code: "MCP_CONFIG_INVALID",
      category: ErrorCategory.user,
      details: { path },
    });
  }
  const parsed = McpServersConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InsituError(`the MCP servers file ${path} is not valid`, {
      code: "MCP_CONFIG_INVALID",
      category: ErrorCategory.user,
      details: {
        path,
        issues: parsed.error.issues.slice(0, 10).map((issue) => `${issue.path.join(".")}: ${issue.message}`),
      },
    });
  }
  return parsed.data;
}
