import { describe, expect, it } from "vitest";
import {
  type ApprovalPolicyInput,
  approvedSecrets,
  decidePermission,
  defaultApprovalPolicy,
  evaluateApproval,
  parseApprovalPolicy,
  requestedPermissions,
  ruleMatches,
} from "./index.js";

const manifest = (permissions: { network?: string[]; secrets?: string[] }, limits?: object) => ({
  permissions: { network: permissions.network ?? [], secrets: permissions.secrets ?? [] },
  ...(limits ? { limits } : {}),
});

function policy(input: ApprovalPolicyInput) {
  const parsed = parseApprovalPolicy(input);
  if (!parsed.ok) throw new Error(parsed.issues.join("; "));
  return parsed.policy;
}

describe("approval policy", () => {
  it("names what a manifest asks for: hosts, secrets and only the limits raised above the defaults", () => {
    expect(
      requestedPermissions(
        manifest(
          { network: ["api.example.com", "x.example.org:8443"], secrets: ["API_KEY"] },
          { timeoutMs: 30_000, memoryMb: 128 },
        ),
      ),
    ).toEqual(["net:api.example.com", "net:x.example.org:8443", "secret:API_KEY", "limit:timeoutMs"]);
  });

  it("by default admits hosts and raised limits but sends a secret to review", () => {
    const evaluation = evaluateApproval(
      defaultApprovalPolicy(),
      manifest({ network: ["api.example.com"] }, { timeoutMs: 60_000 }),
    );
    expect(evaluation.decision).toBe("auto");
    const withSecret = evaluateApproval(
      defaultApprovalPolicy(),
      manifest({ network: ["api.example.com"], secrets: ["API_KEY"] }),
    );
    expect(withSecret.decision).toBe("review");
    expect(withSecret.permissions).toEqual([
      { permission: "net:api.example.com", decision: "auto", rule: "default" },
      { permission: "secret:API_KEY", decision: "review", rule: "default" },
    ]);
    expect(defaultApprovalPolicy().onReview).toBe("continue");
  });

  it("takes the first matching rule, so a narrow exception goes before a broad rule", () => {
    const rules = policy({
      rules: [
        { permission: "net:api.good.example", decision: "auto" },
        { permission: "net:*.example", decision: "review" },
        { permission: "net:*", decision: "deny" },
      ],
    });
    expect(decidePermission(rules, "net:api.good.example").decision).toBe("auto");
    expect(decidePermission(rules, "net:other.example:443").decision).toBe("review");
    expect(decidePermission(rules, "net:example.org").decision).toBe("deny");
  });

  it("any deny denies the version, else any review reviews it", () => {
    const rules = policy({
      defaults: { net: "review" },
      rules: [{ permission: "secret:ROOT_*", decision: "deny" }],
    });
    expect(
      evaluateApproval(rules, manifest({ network: ["a.example"], secrets: ["ROOT_TOKEN"] })).decision,
    ).toBe("deny");
    expect(evaluateApproval(rules, manifest({ network: ["a.example"] })).decision).toBe("review");
    expect(evaluateApproval(rules, manifest({})).decision).toBe("auto");
  });

  it("matches host globs on labels and ports literally, never across kinds", () => {
    expect(ruleMatches("net:*.example.com", "net:api.example.com")).toBe(true);
    expect(ruleMatches("net:*.example.com", "net:a.b.example.com:8443")).toBe(true);
    expect(ruleMatches("net:*.example.com", "net:example.com")).toBe(false);
    expect(ruleMatches("net:*.example.com", "net:evil-example.com")).toBe(false);
    expect(ruleMatches("net:api.example.com:443", "net:api.example.com:8443")).toBe(false);
    expect(ruleMatches("net:api.example.com:443", "net:api.example.com:443")).toBe(true);
    expect(ruleMatches("net:[::1]", "net:[::1]:80")).toBe(true);
    expect(ruleMatches("net:API.Example.com", "net:api.example.com")).toBe(true);
    expect(ruleMatches("secret:*", "net:api.example.com")).toBe(false);
    expect(ruleMatches("secret:SEARCH_*", "secret:SEARCH_KEY")).toBe(true);
    expect(ruleMatches("secret:SEARCH_*", "secret:XSEARCH_KEY")).toBe(false);
    expect(ruleMatches("limit:*", "limit:memoryMb")).toBe(true);
    // Regex characters in a rule are literal.
    expect(ruleMatches("net:a.example", "net:axexample")).toBe(false);
  });

  it("grants a reviewed secret only to an approved version, an auto secret always, a denied one never", () => {
    const rules = policy({
      rules: [
        { permission: "secret:OPEN_KEY", decision: "auto" },
        { permission: "secret:BANNED_KEY", decision: "deny" },
      ],
    });
    const asks = manifest({ secrets: ["OPEN_KEY", "REVIEWED_KEY", "BANNED_KEY"] });
    expect(approvedSecrets(rules, asks, "none")).toEqual(["OPEN_KEY"]);
    expect(approvedSecrets(rules, asks, "pending")).toEqual(["OPEN_KEY"]);
    expect(approvedSecrets(rules, asks, "rejected")).toEqual(["OPEN_KEY"]);
    expect(approvedSecrets(rules, asks, "approved")).toEqual(["OPEN_KEY", "REVIEWED_KEY"]);
  });

  it("refuses a malformed policy with readable paths", () => {
    const parsed = parseApprovalPolicy({
      defaults: { net: "maybe" },
      rules: [{ permission: "file:/etc", decision: "auto" }],
      extra: 1,
    });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      const text = parsed.issues.join("\n");
      expect(text).toContain("/defaults/net");
      expect(text).toContain("/rules/0/permission");
    }
  });
});
