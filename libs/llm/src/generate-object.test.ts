import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LlmErrorCode } from "./errors.js";
import { usageOfError } from "./attempt-usage.js";
import {
  REPAIR_EXCERPT_CHARS,
  excerptForRepair,
  extractJson,
  generateObject,
  parseModelJson,
  zodToJsonSchema,
} from "./generate-object.js";
import { createScriptedModel } from "./scripted.js";

describe("extractJson", () => {
  it("reads plain JSON, fenced JSON and JSON surrounded by prose", () => {
    expect(extractJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(extractJson('```json\n{"a": [1, 2]}\n```')).toEqual({ ok: true, value: { a: [1, 2] } });
    expect(extractJson('Here it is:\n```\n{"a": 2}\n```\nAnything else?')).toEqual({
      ok: true,
      value: { a: 2 },
    });
    expect(extractJson('Sure! {"a": "x}y", "b": {"c": "\\"}"}} Hope that helps.')).toEqual({
      ok: true,
      value: { a: "x}y", b: { c: '"}' } },
    });
    expect(extractJson("\uFEFF [1,2,3] trailing")).toEqual({ ok: true, value: [1, 2, 3] });
  });

  it("reports empty, prose-only and truncated answers as errors instead of throwing", () => {
    expect(extractJson("   ").ok).toBe(false);
    expect(extractJson("I cannot help with that.").ok).toBe(false);
    const truncated = extractJson('{"a": [1, 2');
    expect(truncated.ok).toBe(false);
  });
});

describe("parseModelJson", () => {
  const schema = z.object({ name: z.string(), note: z.string().optional(), maybe: z.string().nullable() });

  it("treats null as absent for optional fields but keeps nulls a schema allows", () => {
    expect(parseModelJson('{"name": "x", "note": null, "maybe": null}', schema)).toEqual({
      ok: true,
      value: { name: "x", maybe: null },
    });
  });

  it("returns validation errors with their paths", () => {
    const result = parseModelJson('{"name": 3, "maybe": null}', schema);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]).toMatch(/^name: /);
  });
});

describe("generateObject", () => {
  const schema = z.object({ answer: z.number() });

  it("sends the zod schema as JSON Schema and returns the validated object", async () => {
    const model = createScriptedModel([{ json: { answer: 42 } }]);
    const { object, attempts } = await generateObject(
      model,
      { messages: [{ role: "user", content: "?" }] },
      schema,
    );
    expect(object).toEqual({ answer: 42 });
    expect(attempts).toBe(1);
    expect(model.calls[0]?.responseSchema).toMatchObject({
      type: "object",
      properties: { answer: { type: "number" } },
    });
    expect(model.calls[0]?.responseSchema).not.toHaveProperty("$schema");
  });

  it("feeds validation errors back and stops after maxRepairs with LLM_INVALID_OUTPUT", async () => {
    const model = createScriptedModel(['{"answer": "x"}', "no json here", '{"answer": null}']);
    const error = await generateObject(model, { messages: [{ role: "user", content: "?" }] }, schema, {
      maxRepairs: 2,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InsituError);
    expect((error as InsituError).code).toBe(LlmErrorCode.invalidOutput);
    expect((error as InsituError).details.attempts).toBe(3);
    expect(model.calls).toHaveLength(3);
    const second = model.calls[1]?.messages ?? [];
    expect(second.at(-2)).toEqual({ role: "model", content: '{"answer": "x"}' });
    expect(second.at(-1)).toMatchObject({ role: "user" });
    expect(JSON.stringify(second.at(-1))).toContain("answer");
  });

  it("zodToJsonSchema drops the $schema key providers reject", () => {
    const jsonSchema = zodToJsonSchema(schema);
    expect(jsonSchema).toMatchObject({
      type: "object",
      properties: { answer: { type: "number" } },
      required: ["answer"],
    });
    expect(jsonSchema).not.toHaveProperty("$schema");
  });
});

describe("strict extraction and bounded repairs (issue 18)", () => {
  const schema = z.object({ answer: z.number() });

  it("never takes a nested value inside an unbalanced outer value for the answer", () => {
    const truncated = extractJson('Here: {"plan": {"answer": 1}, "more": [1, 2');
    expect(truncated.ok).toBe(false);
    if (!truncated.ok) expect(truncated.error).toContain("truncated");
    const nested = extractJson('[{"answer": 1}, {"answer": 2}');
    expect(nested.ok).toBe(false);
    // Balanced prose brackets before the JSON are skipped, not mistaken for truncation.
    expect(extractJson('See [1] and then {"answer": 3}')).toEqual({ ok: true, value: [1] });
  });

  it("a length finish is a truncated answer: never parsed, the repair says so", async () => {
    const model = createScriptedModel([
      { text: '{"answer": 1}', finishReason: "length" },
      { text: '{"answer": 2}' },
    ]);
    const { object, attempts } = await generateObject(
      model,
      { messages: [{ role: "user", content: "?" }] },
      schema,
    );
    expect(object).toEqual({ answer: 2 });
    expect(attempts).toBe(2);
    const repair = model.calls[1]?.messages.at(-1);
    expect(repair?.role === "user" && repair.content).toContain("cut off at the output token limit");
  });

  it("quotes a huge invalid answer back only as a bounded excerpt", async () => {
    const huge = `{"answer": "${"x".repeat(1_000_000)}`;
    const model = createScriptedModel([{ text: huge }, { json: { answer: 1 } }]);
    await generateObject(model, { messages: [{ role: "user", content: "?" }] }, schema);
    const quoted = model.calls[1]?.messages.at(-2);
    expect(quoted?.role).toBe("model");
    const content = quoted?.role === "model" ? (quoted.content ?? "") : "";
    expect(content.length).toBeLessThan(REPAIR_EXCERPT_CHARS + 100);
    expect(content).toContain("characters of the invalid answer omitted");
    expect(excerptForRepair("short")).toBe("short");
  });

  it("carries the usage of every attempt on failure, and stops at the token budget", async () => {
    const bad = { text: "nope", usage: { inputTokens: 100, outputTokens: 10 } };
    const failing = await generateObject(
      createScriptedModel([bad, bad, bad]),
      { messages: [] },
      schema,
    ).catch((error: unknown) => error as InsituError);
    expect((failing as InsituError).code).toBe(LlmErrorCode.invalidOutput);
    expect(usageOfError(failing)).toMatchObject({ inputTokens: 300, outputTokens: 30 });

    const model = createScriptedModel([bad, bad, bad]);
    const stopped = await generateObject(model, { messages: [] }, schema, { maxTokens: 150 }).catch(
      (error: unknown) => error as InsituError,
    );
    expect((stopped as InsituError).code).toBe("BUDGET_EXCEEDED");
    expect(model.calls).toHaveLength(2);
    expect(usageOfError(stopped)).toMatchObject({ inputTokens: 200, outputTokens: 20 });
  });
});
