import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { LlmErrorCode } from "./errors.js";
import { loadScenario, parseScenario } from "./scenario.js";
import { HashingEmbeddingModel, createScriptedModel } from "./scripted.js";
import type { StreamPart } from "./types.js";

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] });

describe("scripted model (fake)", () => {
  it("answers from a list in order, records every request, and fails loudly when the list runs out", async () => {
    const model = createScriptedModel([
      "first",
      { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] },
      { json: { done: true } },
    ]);
    expect((await model.generate(ask("one"))).text).toBe("first");
    const second = await model.generate(ask("two"));
    expect(second.finishReason).toBe("tool-calls");
    expect(second.toolCalls[0]).toMatchObject({ name: "add", arguments: { a: 1, b: 2 } });
    expect((await model.generate(ask("three"))).text).toBe('{"done":true}');
    const error = await model.generate(ask("four")).catch((caught: unknown) => caught);
    expect((error as InsituError).code).toBe(LlmErrorCode.scriptExhausted);
    expect(model.calls.map((call) => call.messages[0])).toEqual([
      { role: "user", content: "one" },
      { role: "user", content: "two" },
      { role: "user", content: "three" },
      { role: "user", content: "four" },
    ]);
    expect(model.provider).toBe("scripted");
  });

  it("answers from a function of the request", async () => {
    const model = createScriptedModel((request, index) => `${index}:${request.messages.length}`);
    expect((await model.generate(ask("x"))).text).toBe("0:1");
    expect((await model.generate(ask("y"))).text).toBe("1:1");
  });

  it("checks `when` conditions, falls back to rules, and throws LLM_SCRIPT_MISMATCH otherwise", async () => {
    const model = createScriptedModel({
      steps: [{ when: { lastMessageContains: "plan" }, reply: "the plan" }],
      rules: [{ when: { systemContains: "summarize" }, reply: "a summary" }],
    });
    expect((await model.generate({ system: "Please SUMMARIZE", ...ask("anything") })).text).toBe("a summary");
    const mismatch = await model.generate(ask("other")).catch((caught: unknown) => caught);
    expect((mismatch as InsituError).code).toBe(LlmErrorCode.scriptMismatch);
    expect((await model.generate(ask("make a plan"))).text).toBe("the plan");
    expect(model.remainingSteps).toBe(0);
  });

  it("throws scripted errors as typed InsituErrors", async () => {
    const model = createScriptedModel([{ error: { code: "LLM_RATE_LIMITED", retryable: true } }]);
    const error = await model.generate(ask("x")).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InsituError);
    expect((error as InsituError).code).toBe("LLM_RATE_LIMITED");
    expect((error as InsituError).retryable).toBe(true);
  });

  it("streams its text in chunks and ends with the whole result", async () => {
    const model = createScriptedModel({ steps: ["abcdefghij"], streamChunkSize: 4 });
    const parts: StreamPart[] = [];
    for await (const part of model.stream(ask("x"))) parts.push(part);
    expect(parts.map((part) => (part.type === "text-delta" ? part.text : part.type))).toEqual([
      "abcd",
      "efgh",
      "ij",
      "finish",
    ]);
  });

  it("estimates usage so accounting has figures", async () => {
    const result = await createScriptedModel(["12345678"]).generate(ask("1234"));
    expect(result.usage).toEqual({ inputTokens: 1, outputTokens: 3, cachedTokens: 0 });
  });
});

describe("scenario files", () => {
  it("loads per-role scripts with multi-line text, textFile replies and rules", async () => {
    const dir = mkdtempSync(join(tmpdir(), "insitu-scenario-"));
    writeFileSync(join(dir, "tool.ts"), "export default async function run() { return 1; }\n");
    writeFileSync(
      join(dir, "scenario.json"),
      JSON.stringify({
        description: "a tool is written and used",
        roles: {
          manager: [{ note: "plan", reply: { json: { action: "build" } } }],
          "tool-developer": [{ reply: { textFile: "tool.ts" } }],
          executor: {
            steps: [{ reply: { text: ["line one", "line two"] } }],
            rules: [{ when: { structured: true }, reply: { json: { ok: true } } }],
          },
        },
      }),
    );
    const scenario = loadScenario(join(dir, "scenario.json"));
    expect(scenario.description).toBe("a tool is written and used");
    expect((await scenario.model("manager").generate(ask("q"))).text).toBe('{"action":"build"}');
    expect((await scenario.model("tool-developer").generate(ask("q"))).text).toContain("export default");
    const executor = scenario.model("executor");
    expect((await executor.generate(ask("q"))).text).toBe("line one\nline two");
    expect((await executor.generate({ ...ask("q"), responseSchema: { type: "object" } })).text).toBe(
      '{"ok":true}',
    );
    expect(() => scenario.model("integrator")).toThrow(/no script for role "integrator"/);
  });

  it("refuses a malformed scenario naming the bad field", () => {
    expect(() =>
      parseScenario({ description: "x", roles: { manager: [{ reply: { txt: "typo" } }] } }),
    ).toThrow(/roles\.manager/);
  });
});

describe("hashing embeddings (fake)", () => {
  it("gives deterministic unit vectors that are closer for texts sharing words", async () => {
    const model = new HashingEmbeddingModel(32);
    const [a, b, c] = await model.embed(["parse csv file", "parse a csv", "weather in oslo"]);
    const dot = (x: number[] = [], y: number[] = []) =>
      x.reduce((sum, value, index) => sum + value * (y[index] ?? 0), 0);
    expect(dot(a, a)).toBeCloseTo(1);
    expect(dot(a, b)).toBeGreaterThan(dot(a, c));
    expect(await model.embed(["parse csv file"])).toEqual([a]);
  });
});
