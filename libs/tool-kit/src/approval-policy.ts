import { z } from "zod";
import { DefaultLimits, type ToolManifest } from "./manifest.js";
import { parseNetworkTarget } from "./permissions.js";

/**
 * The operator's approval policy (issue 11 point 5, docs/adr/0130): for each permission a tool
 * version asks for, `auto` (admitted without a look), `review` (waits for an operator's decision)
 * or `deny` (never admitted, never granted).
 *
 * Permissions are named as strings:
 * - `net:<host>` or `net:<host>:<port>` — one entry of `permissions.network`;
 * - `secret:<NAME>` — one entry of `permissions.secrets`;
 * - `limit:<timeoutMs|memoryMb|outputBytes>` — a limit raised above {@link DefaultLimits}.
 *
 * A rule's `permission` is the same string with `*` globs (`net:*.example.com`, `secret:SEARCH_*`,
 * `limit:*`). Rules are read in order and the first that matches decides (as in a firewall), so a
 * narrow exception goes before a broad rule; a permission no rule matches takes its kind's default.
 */

export const ApprovalDecision = { auto: "auto", review: "review", deny: "deny" } as const;
export type ApprovalDecision = (typeof ApprovalDecision)[keyof typeof ApprovalDecision];
export const ApprovalDecisionSchema = z.enum(["auto", "review", "deny"]);

/** What a task does when a tool it asked for waits for review (per task, else the policy's). */
export const ReviewWaitMode = { continue: "continue", wait: "wait" } as const;
export type ReviewWaitMode = (typeof ReviewWaitMode)[keyof typeof ReviewWaitMode];
export const ReviewWaitModeSchema = z.enum(["continue", "wait"]);

export const PermissionKindsForApproval = ["net", "secret", "limit"] as const;
export type ApprovalPermissionKind = (typeof PermissionKindsForApproval)[number];

const RULE_PATTERN = /^(net|secret|limit):[A-Za-z0-9_.*:[\]-]{1,260}$/;

export const ApprovalRuleSchema = z
  .object({
    /** `net:<host-glob>[:port]`, `secret:<NAME-glob>` or `limit:<name-glob>`; `*` matches any run. */
    permission: z
      .string()
      .regex(
        RULE_PATTERN,
        'a rule names "net:<host-glob>", "secret:<NAME>" or "limit:<name>", e.g. "net:*.example.com"',
      ),
    decision: ApprovalDecisionSchema,
  })
  .strict();
export type ApprovalRule = z.infer<typeof ApprovalRuleSchema>;

/**
 * The defaults (ADR 0130): network hosts `auto` — the egress proxy already refuses internal
 * addresses, holds a tool to its declared hosts and caps bytes and time; secrets `review` — a
 * secret is the operator's credential and a model-written tool using it deserves a look; raised
 * limits `auto` — they stay under the hard ceilings of the manifest schema.
 */
export const DEFAULT_APPROVAL_DEFAULTS = { net: "auto", secret: "review", limit: "auto" } as const;
/** How long a task waiting for a review waits at most (its own deadline may end it sooner). */
export const DEFAULT_REVIEW_WAIT_MS = 10 * 60_000;

export const ApprovalPolicySchema = z
  .object({
    /** Major version of this file's format. */
    version: z.literal(1).default(1),
    /** The decision for a permission no rule matches, per kind. */
    defaults: z
      .object({
        net: ApprovalDecisionSchema.default(DEFAULT_APPROVAL_DEFAULTS.net),
        secret: ApprovalDecisionSchema.default(DEFAULT_APPROVAL_DEFAULTS.secret),
        limit: ApprovalDecisionSchema.default(DEFAULT_APPROVAL_DEFAULTS.limit),
      })
      .strict()
      .default({ ...DEFAULT_APPROVAL_DEFAULTS }),
    /** First match decides. */
    rules: z.array(ApprovalRuleSchema).max(1000).default([]),
    /** What a task does by default when a tool it asked for waits for review. */
    onReview: ReviewWaitModeSchema.default("continue"),
    /** The longest a task waits for a decision (mode `wait`), in ms. */
    reviewWaitMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3_600_000)
      .default(DEFAULT_REVIEW_WAIT_MS),
  })
  .strict();
export type ApprovalPolicy = z.output<typeof ApprovalPolicySchema>;
export type ApprovalPolicyInput = z.input<typeof ApprovalPolicySchema>;

/** The policy when the operator set none. */
export function defaultApprovalPolicy(): ApprovalPolicy {
  return ApprovalPolicySchema.parse({});
}

/** Parses an operator's policy; on failure returns readable issues (`path: message`). */
export function parseApprovalPolicy(
  value: unknown,
): { ok: true; policy: ApprovalPolicy } | { ok: false; issues: string[] } {
  const result = ApprovalPolicySchema.safeParse(value);
  if (result.success) return { ok: true, policy: result.data };
  return {
    ok: false,
    issues: result.error.issues
      .slice(0, 20)
      .map((issue) => `/${issue.path.map(String).join("/")}: ${issue.message}`),
  };
}

/** One permission a version asks for, with the decision the policy gives it. */
export interface PermissionDecision {
  /** `net:api.example.com`, `secret:API_KEY`, `limit:timeoutMs`. */
  permission: string;
  decision: ApprovalDecision;
  /** The rule that decided, or `default`. */
  rule: string;
}

/** What the policy says of a whole version: the strictest of its permissions' decisions. */
export interface ApprovalEvaluation {
  decision: ApprovalDecision;
  permissions: PermissionDecision[];
}

/** The permissions a manifest asks for, in the policy's vocabulary. */
export function requestedPermissions(manifest: Pick<ToolManifest, "permissions" | "limits">): string[] {
  const permissions: string[] = [];
  for (const target of manifest.permissions.network) permissions.push(`net:${target}`);
  for (const name of manifest.permissions.secrets) permissions.push(`secret:${name}`);
  const limits = manifest.limits ?? {};
  for (const key of Object.keys(DefaultLimits) as (keyof typeof DefaultLimits)[]) {
    const asked = limits[key];
    if (asked !== undefined && asked > DefaultLimits[key]) permissions.push(`limit:${key}`);
  }
  return permissions;
}

/** The decision for one permission string. */
export function decidePermission(policy: ApprovalPolicy, permission: string): PermissionDecision {
  const kind = kindOf(permission);
  for (const rule of policy.rules) {
    if (ruleMatches(rule.permission, permission)) {
      return { permission, decision: rule.decision, rule: rule.permission };
    }
  }
  // An unknown kind is not something the operator allowed: review it.
  const decision = kind ? policy.defaults[kind] : ApprovalDecision.review;
  return { permission, decision, rule: "default" };
}

/** Evaluates every permission of a manifest; any `deny` denies, else any `review` reviews. */
export function evaluateApproval(
  policy: ApprovalPolicy,
  manifest: Pick<ToolManifest, "permissions" | "limits">,
): ApprovalEvaluation {
  const permissions = requestedPermissions(manifest).map((permission) =>
    decidePermission(policy, permission),
  );
  const decision = permissions.some((item) => item.decision === "deny")
    ? ApprovalDecision.deny
    : permissions.some((item) => item.decision === "review")
      ? ApprovalDecision.review
      : ApprovalDecision.auto;
  return { decision, permissions };
}

/** Where one version stands with its reviewer (none needed, waiting, decided). */
export type ReviewState = "none" | "pending" | "approved" | "rejected";

/**
 * The secrets a caller may grant to one call of a version: those the policy gives `auto`, and
 * those it gives `review` when this very version was approved. `deny` is never granted, approved
 * or not; a version waiting or rejected gets none of its reviewed secrets. The policy is read
 * now, so an operator who tightens it stops grants at once.
 */
export function approvedSecrets(
  policy: ApprovalPolicy,
  manifest: Pick<ToolManifest, "permissions">,
  review: ReviewState,
): string[] {
  return manifest.permissions.secrets.filter((name) => {
    const { decision } = decidePermission(policy, `secret:${name}`);
    return decision === "auto" || (decision === "review" && review === "approved");
  });
}

function kindOf(permission: string): ApprovalPermissionKind | undefined {
  const kind = permission.slice(0, permission.indexOf(":"));
  return (PermissionKindsForApproval as readonly string[]).includes(kind)
    ? (kind as ApprovalPermissionKind)
    : undefined;
}

/**
 * Whether a rule matches a permission. Kinds must be equal. For `net`, a rule without a port
 * matches the host on any port; a rule with one matches that port only; hosts compare lowercase.
 */
export function ruleMatches(rule: string, permission: string): boolean {
  const ruleKind = kindOf(rule);
  if (!ruleKind || ruleKind !== kindOf(permission)) return false;
  const ruleBody = rule.slice(ruleKind.length + 1);
  const body = permission.slice(ruleKind.length + 1);
  if (ruleKind !== "net") return globMatches(ruleBody, body);
  const target = parseNetworkTarget(body);
  if (!target) return false;
  const { hostGlob, port } = splitHostGlob(ruleBody.toLowerCase());
  if (port !== undefined && target.port !== port) return false;
  return globMatches(hostGlob, target.host);
}

function splitHostGlob(text: string): { hostGlob: string; port?: number } {
  // A bracketed IPv6 literal keeps its colons; a trailing `:digits` after it or a name is a port.
  const match = /^(.*?)(?::(\d{1,5}))?$/.exec(text);
  const hostGlob = match?.[1] ?? text;
  if (match?.[2] !== undefined && !(hostGlob.startsWith("[") && !hostGlob.endsWith("]"))) {
    return { hostGlob, port: Number(match[2]) };
  }
  return { hostGlob: text };
}

/** `*` matches any run of characters (dots included); everything else literally. */
function globMatches(glob: string, text: string): boolean {
  const pattern = glob
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${pattern}$`).test(text);
}
