import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LlmErrorCode } from "./errors.js";
import { extractJson, generateObject, parseModelJson, zodToJsonSchema } from "./generate-object.js";
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
