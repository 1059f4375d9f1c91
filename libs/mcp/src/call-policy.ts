import { type ToolManifest, classifyHost, parseNetworkTarget } from "@insitu/tool-kit";

/**
 * Decides whether an MCP client may run a library tool. A tool that needs something the operator
 * reserves for review is still LISTED (so a client sees the whole library), but `tools/call`
 * answers with the reason instead of running it. This is the hook an approval policy extends:
 * return a reason to refuse, undefined to allow.
 */
export interface McpCallPolicy {
  review(manifest: ToolManifest): string | undefined;
}

export interface OperatorCallPolicyOptions {
  /**
   * Secrets an MCP client may make a tool use (the operator's keys spent on an outside client's
   * behalf). Default: none — a tool declaring any secret is reserved for review.
   */
  allowSecrets: readonly string[] | "*";
  /**
   * Hosts an MCP-called tool may declare. `"*"` (default): any public host (the sandbox still
   * applies its own policy); internal hosts only when named here.
   */
  allowHosts: readonly string[] | "*";
}

/** The default policy: refuse tools whose declared secrets or hosts the operator did not open to MCP. */
export function operatorCallPolicy(options: OperatorCallPolicyOptions): McpCallPolicy {
  return {
    review(manifest) {
      const problems: string[] = [];
      const secrets = manifest.permissions.secrets.filter(
        (name) => options.allowSecrets !== "*" && !options.allowSecrets.includes(name),
      );
      if (secrets.length > 0) problems.push(`secret ${secrets.join(", ")}`);
      const hosts = manifest.permissions.network.filter((declared) => {
        const target = parseNetworkTarget(declared);
        if (!target) return true;
        const named =
          options.allowHosts !== "*" &&
          options.allowHosts.some((allowed) => allowed === declared || allowed === target.host);
        if (named) return false;
        return options.allowHosts !== "*" || classifyHost(target.host) !== undefined;
      });
      if (hosts.length > 0) problems.push(`network ${hosts.join(", ")}`);
      if (problems.length === 0) return undefined;
      return `tool ${manifest.name} needs ${problems.join(" and ")}, which the operator reserves for review: it is not run for MCP clients (allow it with INSITU_MCP_ALLOW_SECRETS / INSITU_MCP_ALLOW_HOSTS)`;
    },
  };
}

/** Reads the policy from the environment (comma-separated lists, `*` for any). */
export function callPolicyFromEnv(env: {
  INSITU_MCP_ALLOW_SECRETS?: string | undefined;
  INSITU_MCP_ALLOW_HOSTS?: string | undefined;
}): McpCallPolicy {
  const list = (value: string | undefined, fallback: readonly string[] | "*") => {
    if (value === undefined) return fallback;
    if (value.trim() === "*") return "*" as const;
    return value
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);
  };
  return operatorCallPolicy({
    allowSecrets: list(env.INSITU_MCP_ALLOW_SECRETS, []),
    allowHosts: list(env.INSITU_MCP_ALLOW_HOSTS, "*"),
  });
}
