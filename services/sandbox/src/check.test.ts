import { describe, expect, it } from "vitest";
import { parseDenoDiagnostics, scanImports } from "./check.js";

describe("scanImports", () => {
  it("allows vetted libraries and refuses everything else with its line", () => {
    const code = [
      '/// <reference path="/etc/hosts" />',
      'import { evaluate } from "mathjs";',
      'import x from "file:///etc/passwd" with { type: "text" };',
      'export default async () => (await import("./local.ts"));',
    ].join("\n");
    const diagnostics = scanImports(code, ["mathjs"]);
    expect(diagnostics.map((item) => `${item.line} ${item.message.slice(0, 30)}`).sort()).toEqual([
      '1 "/etc/hosts" cannot be importe',
      '1 "<reference" directives are no',
      '3 "file:///etc/passwd" cannot be',
      '4 "./local.ts" cannot be importe',
    ]);
  });
});

describe("parseDenoDiagnostics", () => {
  it("turns deno check output into located diagnostics", () => {
    const output = `TS2322 [ERROR]: Type 'string' is not assignable to type 'number'.
  return { b: "x" };
           ^
    at file:///tmp/w/check-1/tool.ts:5:12

    The expected type comes from property 'b' which is declared here on type '{ b: number; }'
        at file:///tmp/w/check-1/tool.ts:3:68

Found 1 error.
error: Type checking failed.`;
    const code = '\n\n\n\n  return { b: "x" };\n';
    expect(parseDenoDiagnostics(output, code)).toEqual([
      {
        line: 5,
        column: 12,
        code: "TS2322",
        message:
          "Type 'string' is not assignable to type 'number'. (The expected type comes from property 'b' which is declared here on type '{ b: number; }')",
        source: 'return { b: "x" };',
      },
    ]);
  });
});
