import { sampleTool } from "@insitu/tool-kit/testing";
import { describe, expect, it } from "vitest";
import { computeGrant, defaultPolicy, denyList, effectiveLimits } from "./policy.js";

const base = sampleTool().manifest;
const manifest = (network: string[], secrets: string[] = []) => ({
  ...base,
  permissions: { network, secrets },
});

describe("computeGrant", () => {
  it("grants declared public hosts and keeps internal ranges denied for DNS answers", () => {
    const grant = computeGrant(manifest(["api.example.com", "data.example.org:8443"]), {}, defaultPolicy());
    expect(grant.net).toEqual(["api.example.com", "data.example.org:8443"]);
    expect(grant.denyNet).toEqual(
      expect.arrayContaining(["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "[::1]"]),
    );
    expect(grant.refused).toEqual([]);
  });

  it("refuses internal hosts unless the operator names them, and then opens only that address", () => {
    const refused = computeGrant(
      manifest(["127.0.0.1:8080", "169.254.169.254", "localhost:8080"]),
      {},
      defaultPolicy(),
    );
    expect(refused.net).toEqual([]);
    expect(refused.refused.map((item) => item.reason)).toEqual([
      "loopback address not allowed by the operator",
      "cloud-metadata address not allowed by the operator",
      "loopback address not allowed by the operator",
    ]);
    const allowed = computeGrant(
      manifest(["127.0.0.1:8080", "127.0.0.1:9090"]),
      {},
      defaultPolicy({ internalHosts: ["127.0.0.1:8080"] }),
    );
    expect(allowed.net).toEqual(["127.0.0.1:8080"]);
    expect(allowed.denyNet).not.toContain("127.0.0.0/8");
    expect(allowed.denyNet).toContain("127.0.0.2/31");
    expect(allowed.denyNet).toContain("127.0.0.0");
  });

  it("honours the operator's public-host switch and block list", () => {
    expect(
      computeGrant(manifest(["a.example.com"]), {}, defaultPolicy({ allowPublicHosts: false })).net,
    ).toEqual([]);
    expect(
      computeGrant(manifest(["a.example.com"]), {}, defaultPolicy({ blockedHosts: ["a.example.com"] })).net,
    ).toEqual([]);
  });

  it("gives a secret only when declared, granted by the caller and configured by the operator", () => {
    const policy = defaultPolicy({ secrets: { A_KEY: "a", B_KEY: "b" } });
    const grant = computeGrant(
      manifest([], ["A_KEY", "B_KEY", "C_KEY"]),
      { grantedSecrets: ["A_KEY", "C_KEY"] },
      policy,
      (name) => `placeholder-${name}`,
    );
    expect(grant.env).toEqual({ A_KEY: "placeholder-A_KEY" });
    expect(grant.secrets).toEqual([{ name: "A_KEY", placeholder: "placeholder-A_KEY", value: "a" }]);
    expect(grant.refused.map((item) => item.permission)).toEqual(["env:B_KEY", "env:C_KEY"]);
  });
});

describe("limits", () => {
  it("takes the request's, else the manifest's, else the default — never above the operator's maximum", () => {
    const policy = defaultPolicy({ maxLimits: { timeoutMs: 5000, memoryMb: 512, outputBytes: 1000 } });
    expect(effectiveLimits({ timeoutMs: 9000 }, { memoryMb: 128 }, policy)).toEqual({
      timeoutMs: 5000,
      memoryMb: 128,
      outputBytes: 1000,
    });
  });
});

describe("denyList", () => {
  it("carves one address out of its range with the fewest CIDRs", () => {
    const list = denyList(["10.1.2.3"]);
    expect(list).not.toContain("10.0.0.0/8");
    expect(list.filter((entry) => entry.startsWith("10.")).length).toBe(24);
    expect(list).toContain("10.1.2.2/32".replace("/32", ""));
  });
});

describe("computeGrant: secrets bound to hosts", () => {
  const policy = defaultPolicy({
    secrets: { SEARCH_KEY: "s3cret" },
    secretHosts: { SEARCH_KEY: ["api.search.example:443"] },
  });

  it("gives the tool a placeholder and the proxy the value with its hosts", () => {
    const grant = computeGrant(
      manifest(["api.search.example:443"], ["SEARCH_KEY"]),
      { grantedSecrets: ["SEARCH_KEY"] },
      policy,
    );
    expect(grant.env.SEARCH_KEY).toMatch(/^insitu-secret-SEARCH_KEY-[0-9a-f]{24}$/);
    expect(JSON.stringify(grant.env)).not.toContain("s3cret");
    expect(grant.secrets).toEqual([
      {
        name: "SEARCH_KEY",
        placeholder: grant.env.SEARCH_KEY,
        value: "s3cret",
        hosts: ["api.search.example:443"],
      },
    ]);
    expect(grant.refused).toEqual([]);
  });

  it("grants it to a call that may also reach other hosts (they get only the placeholder), new per call", () => {
    const call = () =>
      computeGrant(
        manifest(["api.search.example:443", "evil.example:443"], ["SEARCH_KEY"]),
        { grantedSecrets: ["SEARCH_KEY"] },
        policy,
      );
    const [first, second] = [call(), call()];
    expect(first.refused).toEqual([]);
    expect(first.secrets[0]?.hosts).toEqual(["api.search.example:443"]);
    expect(first.env.SEARCH_KEY).not.toBe(second.env.SEARCH_KEY);
  });
});
