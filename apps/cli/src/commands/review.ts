import type { ToolVersionRecord, VersionSummary } from "@insitu/contracts";
import { GatewayClient } from "../client/gateway-client.js";
import { type CliIo, ExitCode } from "../io.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { resolveTargets } from "../targets.js";

const STATES = ["pending", "approved", "rejected"] as const;
type ReviewState = (typeof STATES)[number];

/**
 * `insitu review list|show|approve|deny` (docs/adr/0130): the operator's side of the approval
 * policy, through the gateway (so GATEWAY_API_TOKEN guards decisions as it guards the rest).
 */
export async function runReview(
  positionals: readonly string[],
  values: Record<string, unknown>,
  io: CliIo,
): Promise<number> {
  const [action, argument] = positionals;
  const usage = (message: string) => {
    io.err(`insitu review: ${message}\nRun \`insitu review --help\`.\n`);
    return ExitCode.usage;
  };
  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  // the gateway's GATEWAY_API_TOKEN, from the command's environment (ADR 0174)
  const client = new GatewayClient(targets.gatewayUrl, io.env.INSITU_GATEWAY_TOKEN || undefined);
  const print = (value: unknown, text: () => string) =>
    io.out(values.json === true ? `${JSON.stringify(value, null, 2)}\n` : text());

  switch (action) {
    case "list": {
      const state = (argument ?? "pending") as ReviewState;
      if (!STATES.includes(state))
        return usage(`list takes pending, approved or rejected, not "${argument}"`);
      const result = (await client.listReviews(state)) as { total: number; versions: VersionSummary[] };
      print(result, () => renderReviewList(result.versions, state, result.total));
      return ExitCode.ok;
    }
    case "show": {
      if (!argument) return usage("show needs a version hash");
      const hash = await resolveHash(client, argument);
      if (!hash) return usage(`no reviewed version matches "${argument}"`);
      const record = (await client.getVersion(hash)) as ToolVersionRecord;
      print(record, () => renderReview(record));
      return ExitCode.ok;
    }
    case "approve":
    case "deny": {
      if (!argument) return usage(`${action} needs a version hash`);
      const reason = typeof values.reason === "string" ? values.reason.trim() : "";
      if (!reason) return usage(`${action} needs --reason "…" (it is recorded in the tool's history)`);
      const hash = await resolveHash(client, argument);
      if (!hash) return usage(`no reviewed version matches "${argument}"`);
      const by = (typeof values.by === "string" && values.by.trim()) || io.env.USER || "operator";
      const summary = (await client.decideReview(hash, { decision: action, by, reason })) as VersionSummary;
      print(
        summary,
        () => `${summary.name} ${shortHash(summary.hash)}: ${summary.status} (${action} by ${by})\n`,
      );
      return ExitCode.ok;
    }
    default:
      return usage(`unknown action "${action ?? ""}" (list, show, approve or deny)`);
  }
}

/** A full hash, or the one reviewed version whose hex starts with `text`. */
async function resolveHash(client: GatewayClient, text: string): Promise<string | undefined> {
  const hex = text.replace(/^sha256:/, "").toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) return `sha256:${hex}`;
  if (!/^[0-9a-f]{4,63}$/.test(hex)) return undefined;
  const matches: string[] = [];
  for (const state of STATES) {
    const { versions } = (await client.listReviews(state)) as { versions: VersionSummary[] };
    for (const version of versions) if (version.hash.slice(7).startsWith(hex)) matches.push(version.hash);
  }
  return matches.length === 1 ? matches[0] : undefined;
}

function shortHash(hash: string): string {
  return hash.slice(7, 19);
}

export function renderReviewList(
  versions: readonly VersionSummary[],
  state: ReviewState,
  total: number,
): string {
  if (versions.length === 0) return `No versions ${state === "pending" ? "waiting for review" : state}.\n`;
  const lines = versions.map((version) => {
    const held = (version.review?.permissions ?? [])
      .filter((permission) => permission.decision !== "auto")
      .map((permission) => `${permission.permission} (${permission.decision})`)
      .join(", ");
    const task = version.review?.requestedByTask ?? version.createdByTask ?? "-";
    return `${shortHash(version.hash)}  ${version.name.padEnd(28)} ${held}  task ${task}`;
  });
  const more = total > versions.length ? `… and ${total - versions.length} more\n` : "";
  return `${lines.join("\n")}\n${more}`;
}

export function renderReview(record: ToolVersionRecord): string {
  const review = record.review;
  const lines = [
    `${record.name} ${record.hash}`,
    `status: ${record.status}${review ? ` (review ${review.state})` : ""}`,
    `requested by task: ${review?.requestedByTask ?? record.createdByTask ?? "-"}`,
    `description: ${record.description}`,
    "permissions:",
    ...(review?.permissions ?? []).map(
      (permission) => `  ${permission.permission}: ${permission.decision} (rule ${permission.rule})`,
    ),
    ...(review && review.permissions.length === 0 ? ["  (none)"] : []),
    "decisions:",
    ...(review?.decisions ?? []).map(
      (decision) => `  ${decision.at} ${decision.decision} by ${decision.by}: ${decision.reason}`,
    ),
    ...(review?.decisions.length ? [] : ["  (none yet)"]),
    `tests (${record.tests.length}):`,
    ...record.tests.map((test) => `  - ${test.name}: ${JSON.stringify(test.input).slice(0, 200)}`),
    "code:",
    record.code,
  ];
  return `${lines.join("\n")}\n`;
}
