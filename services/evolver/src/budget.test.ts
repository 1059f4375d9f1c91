import { ErrorCode, InsituError } from "@insitu/errors";
import { type LanguageModel, withUsage } from "@insitu/llm";
import { createScriptedModel } from "@insitu/llm/testing";
import { describe, expect, it } from "vitest";
import { BarrierBudget } from "./budget.js";

const ask = { messages: [{ role: "user" as const, content: "same capability?" }] };

describe("a barrier's model budget", () => {
  it("counts every billed answer and refuses the request after the budget is spent, without sending it", async () => {
    // FAKE: scripted model billing 600 + 100 tokens per answer; the second answer is refused
    // after the provider billed it (the error carries its usage).
    const scripted = createScriptedModel([
      { text: "{}", usage: { inputTokens: 600, outputTokens: 100 } },
      { text: "{}", usage: { inputTokens: 600, outputTokens: 100 } },
      { text: "{}", usage: { inputTokens: 600, outputTokens: 100 } },
    ]);
    const model: LanguageModel = {
      provider: scripted.provider,
      model: scripted.model,
      stream: (request) => scripted.stream(request),
      async generate(request) {
        const result = await scripted.generate(request);
        if (scripted.calls.length !== 2) return result;
        throw withUsage(new InsituError("empty answer", { code: "LLM_EMPTY_RESPONSE" }), result.usage);
      },
    };
    const budget = new BarrierBudget({ maxTokens: 1000, callTimeoutMs: 60_000 });
    const bounded = budget.model(model, "b1");
    await bounded.generate(ask);
    expect(budget.exhausted).toBe(false);
    await expect(bounded.generate(ask)).rejects.toThrow();
    const refused = await bounded.generate(ask).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InsituError);
    expect((refused as InsituError).code).toBe(ErrorCode.budgetExceeded);
    expect((refused as InsituError).details).toMatchObject({ barrierId: "b1", limit: 1000 });
    expect(scripted.calls).toHaveLength(2);
    expect(budget.exhausted).toBe(true);
    expect(budget.usage).toMatchObject({ inputTokens: 1200, outputTokens: 200 });
    expect(budget.spent).toBe(1400);
  });

  it("gives each call a deadline of callTimeoutMs from its start", async () => {
    const model = createScriptedModel([{ text: "{}" }, { text: "{}" }]);
    let now = 1_000_000;
    const budget = new BarrierBudget({ maxTokens: 1e9, callTimeoutMs: 5000, now: () => now });
    const bounded = budget.model(model, "b1");
    await bounded.generate(ask);
    now += 60_000;
    await bounded.generate(ask);
    expect(model.calls.map((call) => call.deadline)).toEqual([1_005_000, 1_065_000]);
  });
});
