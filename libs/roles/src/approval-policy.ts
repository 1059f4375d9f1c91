import { readJsonFile } from "@insitu/config";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { type ApprovalPolicy, defaultApprovalPolicy, parseApprovalPolicy } from "@insitu/tool-kit";

/** The variable naming the operator's approval policy (docs/adr/0130). */
export const APPROVAL_POLICY_VARIABLE = "INSITU_APPROVAL_POLICY";

/**
 * The operator's approval policy from `INSITU_APPROVAL_POLICY`: a path to a JSON file, or the
 * JSON itself (a value starting with `{`). Unset or empty: the defaults (hosts and raised limits
 * `auto`, secrets `review`). A policy that does not parse stops the service at start with
 * INVALID_CONFIG naming the variable and what is wrong — a policy silently replaced by defaults
 * would admit what the operator meant to deny.
 */
export function loadApprovalPolicy(env: Record<string, string | undefined> = process.env): ApprovalPolicy {
  const text = env[APPROVAL_POLICY_VARIABLE]?.trim();
  if (!text) return defaultApprovalPolicy();
  let value: unknown;
  if (text.startsWith("{")) {
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw invalid(`is not valid JSON: ${(error as Error).message}`);
    }
  } else {
    value = readJsonFile(text, "approval policy", 1024 * 1024);
  }
  const parsed = parseApprovalPolicy(value);
  if (!parsed.ok) throw invalid(`is not an approval policy: ${parsed.issues.join("; ")}`);
  return parsed.policy;
}

function invalid(what: string): InsituError {
  return new InsituError(`${APPROVAL_POLICY_VARIABLE} ${what}`, {
    code: ErrorCode.invalidConfig,
    category: ErrorCategory.user,
    details: { variable: APPROVAL_POLICY_VARIABLE },
  });
}
