import type { ToolManifest } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { defaultPolicy } from "./policy.js";
import { Sandbox } from "./sandbox.js";

function manifest(name: string): ToolManifest {
  return {
    name,
    description: `Test-runner check ${name}.`,
    inputSchema: { type: "object" },
    outputSchema: {},
    permissions: { network: [], secrets: [] },
  };
}

describe("tool tests", () => {
  it("runs a long list of cases without overflowing the queue, in order", async () => {
    const small = new Sandbox({
      policy: defaultPolicy(),
      concurrency: 2,
      maxQueue: 1,
      warm: { perProfile: 0 },
    });
    try {
      const code = "export default async (input: { n: number }) => ({ double: input.n * 2 });";
      const tests = Array.from({ length: 12 }, (_, n) => ({
        name: `case ${n}`,
        input: { n },
        expect: { subset: { double: n * 2 } },
      }));
      const report = await small.test({ tool: { code, manifest: manifest("double_number") }, tests });
      expect(report.passed).toBe(true);
      expect(report.results.map((result) => result.name)).toEqual(tests.map((test) => test.name));
    } finally {
      await small.close();
    }
  });
});
