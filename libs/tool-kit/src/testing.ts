import type { ToolManifest } from "./manifest.js";
import type { ToolTestCase } from "./tool-tests.js";

/** A small valid tool source for other packages' tests (not a fake: a real, runnable tool). */
export function sampleTool(name = "add_numbers"): {
  manifest: ToolManifest;
  code: string;
  tests: ToolTestCase[];
} {
  const manifest: ToolManifest = {
    name,
    description: "Adds two numbers and returns their sum.",
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
      additionalProperties: false,
    },
    outputSchema: {
      type: "object",
      properties: { sum: { type: "number" } },
      required: ["sum"],
      additionalProperties: false,
    },
    permissions: { network: [], secrets: [] },
  };
  const code = `export const manifest = ${JSON.stringify(manifest, null, 2)};

export default async function run(input: { a: number; b: number }): Promise<{ sum: number }> {
  return { sum: input.a + input.b };
}
`;
  const tests: ToolTestCase[] = [
    { name: "adds", input: { a: 2, b: 3 }, expect: { subset: { sum: 5 } } },
    { name: "rejects text", input: { a: "x", b: 3 }, expect: { outcome: "INVALID_INPUT" } },
  ];
  return { manifest, code, tests };
}
