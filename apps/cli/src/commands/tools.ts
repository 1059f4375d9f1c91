import { GatewayClient } from "../client/gateway-client.js";
import { type CliIo, ExitCode } from "../io.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { resolveTargets } from "../targets.js";

interface ToolRow {
  name: string;
  description: string;
  calls?: number;
  successRate?: number;
  score?: number;
  hash: string;
}

/** `insitu tools [query]`: the library (or the ranked tools for a query), through the gateway. */
export async function runTools(
  query: string | undefined,
  values: Record<string, unknown>,
  io: CliIo,
): Promise<number> {
  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  const client = new GatewayClient(targets.gatewayUrl);
  const result = (await client.listTools(query)) as {
    snapshot?: number;
    total?: number;
    tools?: {
      name: string;
      description: string;
      hash: string;
      usage?: { calls: number; successRate: number };
    }[];
    hits?: { name: string; description: string; hash: string; score: number }[];
  };
  if (values.json === true) {
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return ExitCode.ok;
  }
  const rows: ToolRow[] = result.hits
    ? result.hits.map((hit) => ({
        name: hit.name,
        description: hit.description,
        score: hit.score,
        hash: hit.hash,
      }))
    : (result.tools ?? []).map((tool) => ({
        name: tool.name,
        description: tool.description,
        hash: tool.hash,
        ...(tool.usage ? { calls: tool.usage.calls, successRate: tool.usage.successRate } : {}),
      }));
  io.out(renderTools(rows, { query, snapshot: result.snapshot, total: result.total }));
  return ExitCode.ok;
}

export function renderTools(
  rows: readonly ToolRow[],
  context: { query?: string | undefined; snapshot?: number | undefined; total?: number | undefined },
): string {
  const heading = context.query
    ? `Tools for "${context.query}" (library snapshot ${context.snapshot ?? "?"}), best first:`
    : `Library snapshot ${context.snapshot ?? "?"}: ${context.total ?? rows.length} tool${(context.total ?? rows.length) === 1 ? "" : "s"}`;
  if (rows.length === 0) {
    return `${heading}\n  (none yet — tools appear here once a task has written and used one; try \`insitu demo\`)\n`;
  }
  const width = Math.max(...rows.map((row) => row.name.length));
  const lines = rows.map((row) => {
    const figures =
      row.score !== undefined
        ? `score ${row.score.toFixed(3)}`
        : row.calls !== undefined
          ? `${row.calls} call${row.calls === 1 ? "" : "s"}, ${Math.round((row.successRate ?? 0) * 100)}% ok`
          : "";
    const description = row.description.replace(/\s+/g, " ").trim();
    return `  ${row.name.padEnd(width)}  ${figures.padEnd(18)}  ${description.length > 80 ? `${description.slice(0, 79)}…` : description}`;
  });
  return `${heading}\n${lines.join("\n")}\n`;
}
