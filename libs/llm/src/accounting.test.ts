import { InsituError } from "@insitu/errors";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { Accountant, costOf } from "./accounting.js";
import { createScriptedModel } from "./scripted.js";
import type { EmbeddingModel, GenerateRequest, LanguageModel } from "./types.js";

const usage = (inputTokens: number, outputTokens: number, cachedTokens = 0) => ({
  usage: { inputTokens, outputTokens, cachedTokens },
});
const ask = (taskId?: string): GenerateRequest => ({
  messages: [{ role: "user", content: "q" }],
  ...(taskId ? { taskId } : {}),
});

describe("cost", () => {
  it("charges cached input at the cached price and output at the output price (USD per million)", () => {
    expect(
      costOf({ inputTokens: 1_000_000, outputTokens: 0, cachedTokens: 0 }, { input: 2, output: 12 }),
    ).toBe(2);
    expect(
      costOf(
        { inputTokens: 1_000_000, outputTokens: 500_000, cachedTokens: 400_000 },
        { input: 2, output: 12, cachedInput: 0.2 },
      ),
    ).toBeCloseTo(0.6 * 2 + 0.4 * 0.2 + 0.5 * 12);
    expect(costOf({ inputTokens: 10, outputTokens: 10, cachedTokens: 0 }, undefined)).toBe(0);
  });
});

describe("Accountant", () => {
  it("counts tokens and cost per call, per role and per task", async () => {
    const records: unknown[] = [];
    const accountant = new Accountant({
      prices: { "scripted-m": { input: 1, output: 2 } },
      onCall: (record) => records.push(record),
    });
    const manager = accountant.wrap(
      createScriptedModel({
        model: "scripted-m",
        steps: [
          { text: "a", ...usage(1000, 100) },
          { text: "b", ...usage(500, 50) },
        ],
      }),
      { role: "manager" },
    );
    const executor = accountant.wrap(
      createScriptedModel({ model: "scripted-m", steps: [{ text: "c", ...usage(2000, 0) }] }),
      { role: "executor" },
    );
    await manager.generate(ask("t1"));
    await manager.generate(ask("t2"));
    await executor.generate(ask("t1"));
    expect(accountant.taskUsage("t1")).toMatchObject({ calls: 2, inputTokens: 3000, outputTokens: 100 });
    expect(accountant.taskUsage("t1").costUsd).toBeCloseTo((3000 * 1 + 100 * 2) / 1e6);
    expect(accountant.roleUsage("manager")).toMatchObject({ calls: 2, inputTokens: 1500, outputTokens: 150 });
    expect(records).toHaveLength(3);
    expect(records[0]).toMatchObject({
      role: "manager",
      taskId: "t1",
      provider: "scripted",
      model: "scripted-m",
    });
  });

  it("stops a task over its token budget with BUDGET_EXCEEDED before calling the model", async () => {
    const accountant = new Accountant();
    const fake = createScriptedModel({
      steps: [{ text: "a", ...usage(600, 300) }, { text: "b", ...usage(100, 100) }, "never"],
    });
    const model = accountant.wrap(fake, { role: "executor" });
    accountant.startTask("t", { maxTokens: 1000 });
    await model.generate(ask("t"));
    await model.generate(ask("t"));
    const error = await model.generate(ask("t")).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InsituError);
    expect(error).toMatchObject({
      code: "BUDGET_EXCEEDED",
      category: "user",
      details: { taskId: "t", budget: "tokens", limit: 1000, used: 1100 },
    });
    expect(fake.calls).toHaveLength(2);
    // Other tasks are unaffected.
    expect((await model.generate(ask("other"))).text).toBe("never");
  });

  it("enforces cost and wall-time budgets", async () => {
    let now = 0;
    const accountant = new Accountant({
      now: () => now,
      prices: { scripted: { input: 1_000_000, output: 0 } },
    });
    const model = accountant.wrap(createScriptedModel({ respond: () => ({ text: "x", ...usage(1, 0) }) }), {
      role: "manager",
    });
    accountant.startTask("cost", { maxCostUsd: 2 });
    await model.generate(ask("cost"));
    await model.generate(ask("cost"));
    await expect(model.generate(ask("cost"))).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
      details: { budget: "cost" },
    });

    accountant.startTask("slow", { maxWallTimeMs: 60_000 });
    await model.generate(ask("slow"));
    now = 60_000;
    await expect(model.generate(ask("slow"))).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
      details: { budget: "wall-time" },
    });
    await expect(
      (async () => {
        for await (const _ of model.stream(ask("slow"))) {
          /* drain */
        }
      })(),
    ).rejects.toMatchObject({ code: "BUDGET_EXCEEDED" });
  });

  it("cancels a call still running when the task's wall-time budget runs out, as BUDGET_EXCEEDED", async () => {
    const accountant = new Accountant();
    const seen: AbortSignal[] = [];
    // A fake model that answers only when cancelled (like a provider waiting on a slow model).
    const slow: LanguageModel = {
      provider: "fake",
      model: "slow",
      generate: (request) =>
        new Promise((_resolve, reject) => {
          if (request.signal) seen.push(request.signal);
          request.signal?.addEventListener("abort", () => reject(new Error("aborted by signal")), {
            once: true,
          });
        }),
      stream: () => {
        throw new Error("not used");
      },
    };
    accountant.startTask("t", { maxWallTimeMs: 50 });
    const error = await accountant
      .wrap(slow, { role: "executor" })
      .generate(ask("t"))
      .catch((caught: unknown) => caught);
    expect(seen).toHaveLength(1);
    expect(error).toMatchObject({
      code: "BUDGET_EXCEEDED",
      details: { taskId: "t", budget: "wall-time", limit: 50 },
    });
    expect(accountant.records().at(-1)?.errorCode).toBe("BUDGET_EXCEEDED");
  });

  it("exports calls, tokens by kind, cost, latency and errors by code on the registry, labelled by provider, model and role", async () => {
    const registry = new Registry();
    const accountant = new Accountant({ registry, prices: { "m-1": { input: 1, output: 1 } } });
    const model = accountant.wrap(
      createScriptedModel({
        model: "m-1",
        steps: [
          { text: "ok", usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 4 } },
          { error: { code: "LLM_RATE_LIMITED" } },
          "streamed",
        ],
      }),
      { role: "executor" },
    );
    await model.generate(ask("t"));
    await model.generate(ask("t")).catch(() => undefined);
    for await (const _part of model.stream(ask("t"))) {
      // drain
    }
    // A second accountant on the same registry shares the instruments instead of failing.
    new Accountant({ registry }).wrap(createScriptedModel(["x"]), { role: "manager" });
    const text = await registry.metrics();
    expect(text).toContain(
      'insitu_llm_calls_total{provider="scripted",model="m-1",role="executor",outcome="ok"} 2',
    );
    expect(text).toContain(
      'insitu_llm_calls_total{provider="scripted",model="m-1",role="executor",outcome="error"} 1',
    );
    expect(text).toContain(
      'insitu_llm_tokens_total{provider="scripted",model="m-1",role="executor",kind="cached"} 4',
    );
    expect(text).toContain(
      'insitu_llm_errors_total{provider="scripted",model="m-1",role="executor",code="LLM_RATE_LIMITED"} 1',
    );
    expect(text).toMatch(
      /insitu_llm_cost_usd_total\{provider="scripted",model="m-1",role="executor"\} 0\.0000/,
    );
    expect(text).toContain(
      'insitu_llm_latency_seconds_count{provider="scripted",model="m-1",role="executor"} 3',
    );
  });
});

describe("embedding accounting", () => {
  /** FAKE embedding model for unit tests: reports `billed` tokens when given, else nothing. */
  const embedder = (billed?: number): EmbeddingModel => ({
    provider: "fake",
    model: "fake-embedding",
    dimensions: 2,
    async embed(texts, options) {
      if (billed !== undefined) options?.onUsage?.({ inputTokens: billed, outputTokens: 0, cachedTokens: 0 });
      return texts.map(() => [1, 0]);
    },
  });

  it("counts each embed call for its role, with the provider's tokens or 4 characters a token", async () => {
    const registry = new Registry();
    const accountant = new Accountant({ registry, prices: { "fake-embedding": { input: 1, output: 0 } } });
    await accountant.wrapEmbedding(embedder(42), { role: "registry" }).embed(["hello"]);
    await accountant.wrapEmbedding(embedder(), { role: "registry" }).embed(["x".repeat(40), "y"]);
    expect(accountant.roleUsage("registry")).toMatchObject({ calls: 2, inputTokens: 42 + 10 + 1 });
    expect(accountant.roleUsage("registry").costUsd).toBeCloseTo(53e-6);
    const text = await registry.metrics();
    expect(text).toMatch(/insitu_llm_tokens_total\{[^}]*role="registry"[^}]*kind="input"[^}]*\} 53/);
    expect(text).toMatch(/insitu_llm_calls_total\{[^}]*role="registry"[^}]*outcome="ok"[^}]*\} 2/);
  });
});
