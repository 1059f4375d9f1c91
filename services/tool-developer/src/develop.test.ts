import { createScriptedModel } from "@insitu/llm/testing";
import type { ToolOutcome } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { composeModule, stripManifest } from "./compose.js";
import {
  type CheckReport,
  type DeveloperDeps,
  type TestReport,
  developTool,
  renderBuildPrompt,
  renderRepairPrompt,
} from "./develop.js";
import { loadPrompt } from "./template.js";
import { FAKE_REPORT } from "./testing.js";

const request = {
  name: "count_words",
  description: "Counts the words in a text.",
  input_schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  output_schema: { type: "object", properties: { count: { type: "integer" } } },
};

const draft = (code: string) => ({
  json: {
    code,
    tests: [
      { name: "two words", input: { text: "a b" }, expect: { subset: { count: 2 } } },
      { name: "refuses numbers", input: { text: 5 }, expect: { outcome: "INVALID_INPUT" } },
    ],
    permissions: { network: [], secrets: [] },
  },
});

/** FAKE sandbox ports for unit tests: answers from queues, records what it was given. */
function sandboxFake(checks: CheckReport[], tests: TestReport[], replays: ToolOutcome[] = []) {
  const checked: string[] = [];
  return {
    checked,
    ports: {
      async check(code: string) {
        checked.push(code);
        return checks.shift() ?? { ok: true, diagnostics: [] };
      },
      async test() {
        return (
          tests.shift() ?? {
            report: FAKE_REPORT,
            passed: true,
            results: [{ name: "x", passed: true, failures: [], status: "ok" }],
          }
        );
      },
      async exec() {
        return replays.shift() ?? { status: "ok" as const, output: { count: 1 }, durationMs: 5 };
      },
    },
  };
}

describe("tool developer prompts", () => {
  it("the build prompt pins the module format, sandbox rules and test format", () => {
    const build = loadPrompt("build");
    expect(build.length).toBeGreaterThan(6000);
    for (const pattern of [
      /export default async function run/,
      /do not declare\s+`manifest` yourself/,
      /Put failures inside the output/,
      /LLM-friendly/,
      /permissions\.network/,
      /Deno\.env\.get/,
      /TAVILY_API_KEY/,
      /AbortSignal\.timeout/,
      /No `npm:`, `jsr:`, `node:`/,
      /INVALID_INPUT/,
      /3 to 8 cases/,
      /Tests run \*\*offline\*\*/,
    ]) {
      expect(build).toMatch(pattern);
    }
    const example = /```json\n([\s\S]*?)```/.exec(build.slice(build.indexOf("# Example")))?.[1];
    expect(() => JSON.parse(example ?? "")).not.toThrow();
  });

  it("the repair prompt keeps the interface and requires replays", () => {
    const repair = loadPrompt("repair");
    expect(repair).toMatch(/Keep the interface/);
    expect(repair).toMatch(/replayed on the failing inputs/);
    expect(repair).toMatch(/never\s+special-case the exact failing values/);
  });

  it("renders the request into the build prompt", () => {
    const text = renderBuildPrompt(request, "How many words?", ["jsr:@std/csv"]);
    expect(text).toContain("`count_words`");
    expect(text).toContain('"required": [\n    "text"\n  ]');
    expect(text).toContain("- `jsr:@std/csv`");
    expect(text).not.toMatch(/\{\{\w+\}\}/);
  });
});

describe("repair prompt rendering", () => {
  it("carries the current code, tests and failing calls", () => {
    const manifest = {
      name: "count_words",
      description: "Counts the words in a text.",
      inputSchema: request.input_schema,
      outputSchema: request.output_schema,
      permissions: { network: [], secrets: [] },
    };
    const code = composeModule(manifest, "export default async function run() { return { count: 1 }; }");
    const text = renderRepairPrompt(
      { manifest, code, tests: [{ name: "one", input: { text: "a" }, expect: { subset: { count: 1 } } }] },
      [{ input: { text: "" }, outcome: "execution-failure", error: "CRASH: boom" }],
      [],
    );
    expect(text).toContain("export default async function run() { return { count: 1 }; }");
    expect(text).not.toContain("export const manifest");
    expect(text).toContain('1. input `{"text":""}` → execution-failure: CRASH: boom');
    expect(text).not.toMatch(/\{\{\w+\}\}/);
  });
});

describe("developTool", () => {
  const base = (model: DeveloperDeps["model"], sandbox: ReturnType<typeof sandboxFake>): DeveloperDeps => ({
    model,
    ...sandbox.ports,
    libraries: [],
    maxAttempts: 3,
  });

  it("feeds type-check and test diagnostics back and passes on the third attempt", async () => {
    // FAKE: scripted model answers.
    const model = createScriptedModel([
      draft(
        "export default async function run(input: { text: string }) { return { count: input.text.lenght }; }",
      ),
      draft(
        "export default async function run(input: { text: string }) { return { count: input.text.length }; }",
      ),
      draft(
        "export default async function run(input: { text: string }) { return { count: input.text.split(/\\s+/).filter(Boolean).length }; }",
      ),
    ]);
    const sandbox = sandboxFake(
      [
        {
          ok: false,
          diagnostics: [{ code: "TS2551", line: 20, message: "Property 'lenght' does not exist" }],
        },
      ],
      [
        {
          report: FAKE_REPORT,
          passed: false,
          results: [
            { name: "two words", passed: false, failures: ["at /count: expected 2, got 3"], status: "ok" },
            { name: "refuses numbers", passed: true, failures: [], status: "INVALID_INPUT" },
          ],
        },
      ],
    );
    const attempts: string[] = [];
    const result = await developTool(request, "write it", {
      ...base(model, sandbox),
      onAttempt: (attempt) => attempts.push(attempt.result),
    });
    expect(result.ok).toBe(true);
    expect(attempts).toEqual(["check-failed", "tests-failed", "passed"]);
    expect(JSON.stringify(model.calls[1]?.messages.at(-1))).toMatch(
      /TS2551 line 20: Property 'lenght' does not exist/,
    );
    expect(JSON.stringify(model.calls[2]?.messages.at(-1))).toMatch(
      /1 of 2 tests passed[\s\S]*expected 2, got 3/,
    );
    if (result.ok) {
      expect(result.source.code.startsWith("export const manifest = {")).toBe(true);
      expect(result.source.manifest.name).toBe("count_words");
      expect(result.evidence.tests.total).toBe(1);
    }
  });

  it("gives up after the attempt budget with the last problem as the reason", async () => {
    const bad = draft("export default async function run() { return {}; }");
    const model = createScriptedModel([bad, bad, bad]);
    const failing: CheckReport = { ok: false, diagnostics: [{ code: "TS1005", message: "';' expected" }] };
    const sandbox = sandboxFake([failing, failing, failing], []);
    const result = await developTool(request, "write it", base(model, sandbox));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/after 3 attempts.*check-failed.*';' expected/s);
    expect(model.calls).toHaveLength(3);
  });

  it("refuses drafts without a normal-case test before running anything", async () => {
    const onlyInvalid = {
      json: {
        code: "export default async function run() { return {}; }",
        tests: [
          { name: "a", input: {}, expect: { outcome: "INVALID_INPUT" } },
          { name: "b", input: { text: 1 }, expect: { outcome: "INVALID_INPUT" } },
        ],
      },
    };
    const model = createScriptedModel([onlyInvalid]);
    const sandbox = sandboxFake([], []);
    const result = await developTool(request, "write it", { ...base(model, sandbox), maxAttempts: 1 });
    expect(result.ok).toBe(false);
    expect(sandbox.checked).toHaveLength(0);
  });

  it("a repair passes only when the failing inputs replay without failure", async () => {
    const model = createScriptedModel([
      draft("/* v2 */ export default async function run() { return { count: 0 }; }"),
      draft("/* v3 */ export default async function run() { return { count: 0 }; }"),
    ]);
    const sandbox = sandboxFake(
      [],
      [],
      [
        { status: "CRASH", message: "boom", durationMs: 3 },
        { status: "ok", output: { count: 0 }, durationMs: 3 },
      ],
    );
    const result = await developTool(
      request,
      "repair it",
      { ...base(model, sandbox), maxAttempts: 2 },
      { replayInputs: [{ text: "" }] },
    );
    expect(result.ok).toBe(true);
    expect(JSON.stringify(model.calls[1]?.messages.at(-1))).toMatch(
      /replay of a failing call still fails[\s\S]*CRASH: boom/,
    );
    if (result.ok) expect(result.evidence.replays).toEqual([{ input: { text: "" }, status: "ok" }]);
  });
});

describe("composeModule", () => {
  it("puts our manifest first and drops one the model wrote", () => {
    const manifest = {
      name: "count_words",
      description: "Counts the words in a text.",
      inputSchema: request.input_schema,
      outputSchema: request.output_schema,
      permissions: { network: [], secrets: [] },
    };
    const body =
      'export const manifest = { name: "evil_tool", nested: { a: "}" } };\nexport default async function run() { return { count: 1 }; }';
    const code = composeModule(manifest, body);
    expect(code).not.toContain("evil_tool");
    expect(code.match(/export const manifest/g)).toHaveLength(1);
    expect(code).toContain("export default async function run()");
    expect(stripManifest("const a = 1;")).toBe("const a = 1;");
  });
});
