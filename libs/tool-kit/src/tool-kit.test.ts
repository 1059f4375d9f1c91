import { describe, expect, it } from "vitest";
import {
  checkPattern,
  checkUntrustedSchema,
  classifyHost,
  computeToolHash,
  judgeTestCase,
  parseManifest,
  parseNetworkTarget,
  ToolTestsSchema,
  validateAgainstSchema,
} from "./index.js";
import { sampleTool } from "./testing.js";

describe("manifest", () => {
  it("accepts the sample tool with declared permissions", () => {
    const { manifest } = sampleTool();
    const parsed = parseManifest({
      ...manifest,
      permissions: { network: ["api.example.com:8443"], secrets: ["KEY_A"] },
    });
    expect(parsed.ok && parsed.manifest.permissions.network).toEqual(["api.example.com:8443"]);
    expect(parseManifest({ ...manifest, permissions: { network: ["API.example.com"] } }).ok).toBe(false);
  });

  it("refuses bad names, URLs as hosts, and lower-case secret names with readable paths", () => {
    const { manifest } = sampleTool();
    const parsed = parseManifest({
      ...manifest,
      name: "AddNumbers",
      permissions: { network: ["https://example.com/x"], secrets: ["api_key"] },
    });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      const paths = parsed.issues.map((issue) => issue.path);
      expect(paths).toEqual(
        expect.arrayContaining(["/name", "/permissions/network/0", "/permissions/secrets/0"]),
      );
    }
  });

  it("requires an object input schema", () => {
    const { manifest } = sampleTool();
    expect(parseManifest({ ...manifest, inputSchema: { type: "string" } }).ok).toBe(false);
  });
});

describe("untrusted JSON Schema", () => {
  it("refuses $data, remote $ref, absolute $id", () => {
    expect(
      checkUntrustedSchema({ type: "object", properties: { a: { const: { $data: "1/b" } } } })[0]?.message,
    ).toMatch(/\$data/);
    expect(checkUntrustedSchema({ $ref: "https://evil.example/schema.json" })[0]?.message).toMatch(
      /inside this schema/,
    );
    expect(checkUntrustedSchema({ $id: "http://x.example/s", type: "object" })[0]?.message).toMatch(
      /absolute URI/,
    );
  });

  it("allows a property literally named $data or $ref", () => {
    expect(
      checkUntrustedSchema({
        type: "object",
        properties: { $ref: { type: "string" }, $data: { type: "number" } },
      }),
    ).toEqual([]);
  });

  it("refuses absurd depth and size", () => {
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 40; i += 1) deep = { type: "array", items: deep };
    expect(checkUntrustedSchema(deep)[0]?.message).toMatch(/deeper/);
    const wide = {
      type: "object",
      properties: Object.fromEntries(
        Array.from({ length: 3000 }, (_, i) => [`p${i}`, { type: "string", description: "x".repeat(20) }]),
      ),
    };
    expect(checkUntrustedSchema(wide)[0]?.message).toMatch(/larger than/);
  });

  it("refuses catastrophic patterns and keeps ordinary ones", () => {
    expect(checkPattern("^(a+)+$")).toMatch(/nests quantifiers/);
    expect(checkPattern("(a|aa)*b")).toMatch(/nests quantifiers/);
    expect(checkPattern("(\\w+\\s?)*$")).toMatch(/nests quantifiers/);
    expect(checkPattern("^[a-z]+(-[a-z]+)*$")).toMatch(/nests quantifiers/);
    expect(checkPattern("^\\d{4}-\\d{2}-\\d{2}$")).toBeUndefined();
    expect(checkPattern("^[A-Z]{3}$")).toBeUndefined();
    expect(checkPattern("^(https?)://[^/]+$")).toBeUndefined();
  });

  it("reports a schema that does not compile", () => {
    expect(
      checkUntrustedSchema({ type: "object", properties: { a: { type: "strnig" } } })[0]?.message,
    ).toMatch(/compile/);
  });

  it("validates values with readable issues", () => {
    const { manifest } = sampleTool();
    expect(validateAgainstSchema(manifest.inputSchema, { a: 1, b: 2 })).toEqual([]);
    expect(validateAgainstSchema(manifest.inputSchema, { a: 1, c: 2 })).toEqual(
      expect.arrayContaining([
        { path: "/", message: 'is missing the required property "b"' },
        { path: "/", message: 'has an unexpected property "c"' },
      ]),
    );
  });
});

describe("permissions", () => {
  it("parses host[:port] and refuses anything else", () => {
    expect(parseNetworkTarget("example.com")).toEqual({ host: "example.com" });
    expect(parseNetworkTarget("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseNetworkTarget("[::1]:80")).toEqual({ host: "[::1]", port: 80 });
    for (const bad of [
      "*.example.com",
      "http://a.com",
      "a.com/x",
      "a.com:0",
      "a.com:99999",
      "user@a.com",
      "300.1.1.1",
    ]) {
      expect(parseNetworkTarget(bad), bad).toBeUndefined();
    }
  });

  it("classifies internal hosts", () => {
    expect(classifyHost("127.0.0.1")).toBe("loopback");
    expect(classifyHost("localhost")).toBe("loopback");
    expect(classifyHost("10.1.2.3")).toBe("private");
    expect(classifyHost("172.20.0.1")).toBe("private");
    expect(classifyHost("192.168.1.1")).toBe("private");
    expect(classifyHost("169.254.169.254")).toBe("cloud-metadata");
    expect(classifyHost("metadata.google.internal")).toBe("cloud-metadata");
    expect(classifyHost("169.254.1.1")).toBe("link-local");
    expect(classifyHost("[fe80::1]")).toBe("link-local");
    expect(classifyHost("[::ffff:127.0.0.1]")).toBe("loopback");
    expect(classifyHost("0.0.0.0")).toBe("unspecified");
    expect(classifyHost("intranet")).toBe("local-name");
    expect(classifyHost("api.example.com")).toBeUndefined();
    expect(classifyHost("8.8.8.8")).toBeUndefined();
  });
});

describe("content hash", () => {
  it("is stable under key order and changes with the code", () => {
    const source = sampleTool();
    const reordered = {
      ...source,
      manifest: Object.fromEntries(Object.entries(source.manifest).reverse()) as typeof source.manifest,
    };
    expect(computeToolHash(source)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(computeToolHash(reordered)).toBe(computeToolHash(source));
    expect(computeToolHash({ ...source, code: `${source.code}\n` })).not.toBe(computeToolHash(source));
  });
});

describe("tool tests", () => {
  const [adds, rejects] = ToolTestsSchema.parse(sampleTool().tests);
  it("judges subset, checks and outcomes", () => {
    expect(judgeTestCase(adds!, { status: "ok", output: { sum: 5 }, durationMs: 1 }).passed).toBe(true);
    const failed = judgeTestCase(adds!, { status: "ok", output: { sum: 6 }, durationMs: 1 });
    expect(failed.failures).toEqual(["at /sum: expected 5, got 6"]);
    expect(judgeTestCase(rejects!, { status: "INVALID_INPUT", issues: [], durationMs: 1 }).passed).toBe(true);
    expect(judgeTestCase(rejects!, { status: "ok", output: {}, durationMs: 1 }).passed).toBe(false);
    const checks = ToolTestsSchema.parse([
      {
        name: "c",
        input: {},
        expect: {
          checks: [
            { path: "items[1].name", op: "equals", value: "b" },
            { path: "/items", op: "length", value: 2 },
            { path: "total", op: "approx", value: 0.3 },
            { path: "label", op: "matches", value: "^[a-z]+$" },
            { path: "missing", op: "not_exists" },
          ],
        },
      },
    ])[0]!;
    expect(
      judgeTestCase(checks, {
        status: "ok",
        output: { items: [{ name: "a" }, { name: "b" }], total: 0.1 + 0.2, label: "abc" },
        durationMs: 1,
      }),
    ).toMatchObject({ passed: true });
  });

  it("refuses a catastrophic pattern in a check", () => {
    expect(
      ToolTestsSchema.safeParse([
        { name: "x", input: {}, expect: { checks: [{ path: "", op: "matches", value: "(a+)+$" }] } },
      ]).success,
    ).toBe(false);
  });
});

describe("classifyHost: IPv6 spellings of internal addresses", () => {
  it("judges IPv4-carrying IPv6 forms by the IPv4 address inside", () => {
    expect(classifyHost("[::ffff:7f00:1]")).toBe("loopback");
    expect(classifyHost("[::ffff:127.0.0.1]")).toBe("loopback");
    expect(classifyHost("[::ffff:a9fe:a9fe]")).toBe("link-local");
    expect(classifyHost("[64:ff9b::a9fe:a9fe]")).toBe("link-local");
    expect(classifyHost("[::127.0.0.1]")).toBe("loopback");
    expect(classifyHost("[2002:c0a8:101::]")).toBe("private");
  });

  it("refuses every IPv6 literal outside global unicast, and passes global unicast", () => {
    expect(classifyHost("[0::1]")).toBe("loopback");
    expect(classifyHost("[0:0:0:0:0:0:0:0]")).toBe("unspecified");
    expect(classifyHost("[fe80::1]")).toBe("link-local");
    expect(classifyHost("[fd12:3456::1]")).toBe("private");
    expect(classifyHost("[100::1]")).toBe("reserved-ipv6");
    expect(classifyHost("[::ffff:8.8.8.8]")).toBe("reserved-ipv6");
    expect(classifyHost("[2606:4700:4700::1111]")).toBeUndefined();
  });
});

describe("patterns from a model cannot freeze the service", () => {
  it("validates against a backtracking-prone pattern without backtracking", () => {
    const schema = {
      type: "object",
      properties: { s: { type: "string", pattern: `^${"\\d*".repeat(12)}x$` } },
    };
    expect(checkUntrustedSchema(schema)).toEqual([]);
    const started = performance.now();
    const issues = validateAgainstSchema(schema as never, { s: "1".repeat(22) });
    expect(issues[0]?.message).toMatch(/must match pattern/);
    // Not a speed benchmark: a backtracking engine takes over a second on these 22 characters
    // (about 1.3 s here, growing exponentially), the linear engine well under a millisecond.
    expect(performance.now() - started).toBeLessThan(1_000);
    // And it stays linear on input far beyond any backtracking engine's reach.
    expect(validateAgainstSchema(schema as never, { s: "1".repeat(100_000) })).toHaveLength(1);
  });

  it("refuses patterns that cannot run in linear time", () => {
    expect(checkPattern("(a)\\1")).toMatch(/linear time/);
    expect(checkPattern("(?=a)b")).toMatch(/linear time/);
    expect(checkPattern("^[a-z]+@[a-z]+\\.[a-z]+$")).toBeUndefined();
  });
});
