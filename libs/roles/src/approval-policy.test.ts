import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadApprovalPolicy } from "./approval-policy.js";

describe("loadApprovalPolicy", () => {
  it("uses the defaults when unset, inline JSON, or a file", () => {
    expect(loadApprovalPolicy({}).defaults).toEqual({ net: "auto", secret: "review", limit: "auto" });
    expect(
      loadApprovalPolicy({ INSITU_APPROVAL_POLICY: '{"defaults":{"net":"review"},"onReview":"wait"}' }),
    ).toMatchObject({ defaults: { net: "review", secret: "review" }, onReview: "wait" });
    const file = join(mkdtempSync(join(tmpdir(), "approval-")), "policy.json");
    writeFileSync(file, JSON.stringify({ rules: [{ permission: "secret:*", decision: "deny" }] }));
    expect(loadApprovalPolicy({ INSITU_APPROVAL_POLICY: file }).rules).toEqual([
      { permission: "secret:*", decision: "deny" },
    ]);
  });

  it("stops with INVALID_CONFIG naming the variable rather than falling back to defaults", () => {
    expect(() => loadApprovalPolicy({ INSITU_APPROVAL_POLICY: '{"defaults":{"secret":"yes"}}' })).toThrow(
      expect.objectContaining({
        code: "INVALID_CONFIG",
        message: expect.stringContaining("INSITU_APPROVAL_POLICY"),
      }),
    );
    expect(() => loadApprovalPolicy({ INSITU_APPROVAL_POLICY: "{not json" })).toThrow(
      expect.objectContaining({ code: "INVALID_CONFIG" }),
    );
    expect(() => loadApprovalPolicy({ INSITU_APPROVAL_POLICY: "/nonexistent/policy.json" })).toThrow(
      expect.objectContaining({ code: "INVALID_CONFIG" }),
    );
  });
});
