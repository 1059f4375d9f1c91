import { getEventListeners } from "node:events";
import { ErrorCode, InsituError } from "@insitu/errors";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Accountant } from "./accounting.js";
import { usageOfError } from "./attempt-usage.js";
import { withCallDeadline } from "./deadline.js";
import { LlmErrorCode } from "./errors.js";
import { GeminiModel } from "./gemini.js";
import { REPAIR_EXCERPT_CHARS, generateObject } from "./generate-object.js";
import { MemoryRateLimitGate, type RetryOptions } from "./http-retry.js";
import {
  type MisbehavingGemini,
  type MisbehavingOptions,
  startMisbehavingGemini,
} from "./misbehaving-gemini.js";
import { type StandInServer, startStandInServer } from "./stand-in-server.js";
import type { GenerateRequest } from "./types.js";

// The real @google/genai SDK against the misbehaving Gemini stand-in (FAKE provider, real wire
// format): rate limits, 5xx, slow, billed-but-refused, huge and truncated answers.

let stand: MisbehavingGemini | undefined;
let plain: StandInServer | undefined;

afterEach(async () => {
  await stand?.close();
  await plain?.close();
  stand = undefined;
  plain = undefined;
});

async function misbehaving(options: MisbehavingOptions = {}): Promise<MisbehavingGemini> {
  stand = await startMisbehavingGemini(options);
  return stand;
}

function model(url: string, retry: RetryOptions = {}, gate = new MemoryRateLimitGate()): GeminiModel {
  return new GeminiModel({
    apiKey: "test-key-123",
    model: "gemini-3-pro-preview",
    baseUrl: url,
    retry: { initialDelayMs: 10, maxDelayMs: 50, jitter: 0, maxAttempts: 3, ...retry },
    gate,
  });
}

function ask(marker: string, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return { messages: [{ role: "user", content: `[mb:${marker}] What now?` }], ...extra };
}

async function failure(promise: Promise<unknown>): Promise<InsituError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InsituError);
  return error as InsituError;
}

function gaps(at: number[]): number[] {
  return at.slice(1).map((time, index) => time - (at[index] as number));
}

describe("one retry budget per call", () => {
  it("only 429s: at most maxAttempts requests, every Retry-After honoured, then a final (non-retryable) error", async () => {
    const gemini = await misbehaving({ retryAfterMs: 1000 });
    const error = await failure(model(gemini.url).generate(ask("ratelimit-a")));
    expect(error.code).toBe(LlmErrorCode.rateLimited);
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ retryBudgetSpent: true, attempts: 3 });
    const ledger = gemini.ledger("ratelimit-a");
    expect(ledger.requests).toBe(3);
    for (const gap of gaps(ledger.at)) expect(gap).toBeGreaterThanOrEqual(990);
  });

  it("only 503s with Retry-After: the same bound", async () => {
    const gemini = await misbehaving({ retryAfterMs: 1000 });
    const error = await failure(model(gemini.url, { maxAttempts: 2 }).generate(ask("unavailable-a")));
    expect(error.code).toBe(LlmErrorCode.unavailable);
    expect(error.retryable).toBe(false);
    const ledger = gemini.ledger("unavailable-a");
    expect(ledger.requests).toBe(2);
    for (const gap of gaps(ledger.at)) expect(gap).toBeGreaterThanOrEqual(990);
  });

  it("a wait that would end past the call's total time is not started: the call fails at once", async () => {
    const gemini = await misbehaving({ retryAfterMs: 1000 });
    const started = performance.now();
    const error = await failure(
      model(gemini.url, { maxAttempts: 10, maxTotalMs: 1500 }).generate(ask("ratelimit-b")),
    );
    const elapsed = performance.now() - started;
    expect(error.code).toBe(LlmErrorCode.rateLimited);
    expect(error.retryable).toBe(false);
    expect(gemini.ledger("ratelimit-b").requests).toBe(2);
    expect(elapsed).toBeLessThan(1500);
  });

  it("a 429 slows every caller of the model sharing the gate (another model object, another task)", async () => {
    const gemini = await misbehaving({ retryAfterMs: 1000 });
    const gate = new MemoryRateLimitGate();
    await failure(model(gemini.url, { maxAttempts: 1 }, gate).generate(ask("ratelimit-c")));
    const limitedAt = gemini.ledger("ratelimit-c").at[0] as number;
    // A different request on another model object: it waits out the cooldown before going out.
    await model(gemini.url, {}, gate).generate(ask("truncated-c"));
    const nextAt = gemini.ledger("truncated-c").at[0] as number;
    expect(nextAt - limitedAt).toBeGreaterThanOrEqual(990);
  });
});

describe("every attempt charged", () => {
  it("errors raised after a 200 carry the usage the provider billed, and the accountant counts it", async () => {
    const gemini = await misbehaving({ heavyTokens: 12_345 });
    const accountant = new Accountant();
    accountant.startTask("t1");
    const wrapped = accountant.wrap(model(gemini.url, { maxAttempts: 1 }), { role: "manager" });
    const blocked = await failure(wrapped.generate(ask("blocked-a", { taskId: "t1" })));
    expect(blocked.code).toBe(LlmErrorCode.safetyBlock);
    expect(usageOfError(blocked)?.inputTokens).toBe(12_345);
    const empty = await failure(wrapped.generate(ask("emptyheavy-a", { taskId: "t1" })));
    expect(empty.code).toBe(LlmErrorCode.emptyResponse);
    expect(usageOfError(empty)?.inputTokens).toBe(12_345);
    expect(accountant.taskUsage("t1")).toMatchObject({ calls: 2, inputTokens: 24_690 });
  });

  it("generateObject reports the usage summed over every attempt when it fails", async () => {
    const gemini = await misbehaving({ heavyTokens: 1000 });
    const error = await failure(
      generateObject(model(gemini.url, { maxAttempts: 1 }), ask("emptyheavy-b"), z.object({ a: z.number() })),
    );
    expect(error.code).toBe(LlmErrorCode.emptyResponse);
    expect(gemini.ledger("emptyheavy-b").requests).toBe(3);
    expect(usageOfError(error)?.inputTokens).toBe(gemini.ledger("emptyheavy-b").servedTokens);
    expect(usageOfError(error)?.inputTokens).toBe(3000);
  });
});

describe("bounded repairs and strict JSON", () => {
  it("a 3 MB invalid answer is never re-sent whole: each repair request stays under a bound", async () => {
    const gemini = await misbehaving({ hugeBytes: 3 * 1024 * 1024 });
    const error = await failure(
      generateObject(
        model(gemini.url),
        ask("huge-a"),
        z.object({ required_tool_names: z.array(z.string()) }),
      ),
    );
    expect(error.code).toBe(LlmErrorCode.invalidOutput);
    expect(error.message).toContain("truncated");
    const ledger = gemini.ledger("huge-a");
    expect(ledger.requests).toBe(3);
    const first = ledger.bodyChars[0] as number;
    for (const size of ledger.bodyChars.slice(1))
      expect(size - first).toBeLessThan(2 * (REPAIR_EXCERPT_CHARS + 2000));
    expect(usageOfError(error)?.outputTokens).toBe(3 * Math.ceil((3 * 1024 * 1024) / 4));
  });

  it("a MAX_TOKENS answer is never accepted, even when its text parses and validates", async () => {
    const gemini = await misbehaving();
    const schema = z.object({ required_tool_names: z.array(z.string()), tool_usage_guidance: z.string() });
    const error = await failure(generateObject(model(gemini.url), ask("truncated-a"), schema));
    expect(error.code).toBe(LlmErrorCode.invalidOutput);
    expect(error.message).toContain("cut off at the output token limit");
    expect(gemini.ledger("truncated-a").requests).toBe(3);
  });
});

describe("deadlines and per-call signals", () => {
  it("a slow answer past the request's deadline ends the call as BUDGET_EXCEEDED at the deadline", async () => {
    const gemini = await misbehaving({ slowMs: 5000 });
    const started = performance.now();
    const error = await failure(
      model(gemini.url).generate(ask("slow-a", { taskId: "t-slow", deadline: Date.now() + 400 })),
    );
    const elapsed = performance.now() - started;
    expect(error.code).toBe(ErrorCode.budgetExceeded);
    expect(error.details).toMatchObject({ taskId: "t-slow", budget: "wall-time" });
    expect(elapsed).toBeLessThan(400 + 300);
    expect(gemini.ledger("slow-a").requests).toBe(1);
  });

  it("withCallDeadline refuses a call already past its deadline without a request", async () => {
    const gemini = await misbehaving();
    const error = await failure(
      withCallDeadline(model(gemini.url)).generate(ask("truncated-d", { deadline: Date.now() - 1 })),
    );
    expect(error.code).toBe(ErrorCode.budgetExceeded);
    expect(gemini.keys()).toEqual([]);
  });

  it("1,000 calls sharing one long-lived signal leave no listener on it", async () => {
    const gemini = await misbehaving();
    const consumer = new AbortController();
    const gem = model(gemini.url);
    const before = getEventListeners(consumer.signal, "abort").length;
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, () => gem.generate(ask("truncated-e", { signal: consumer.signal }))),
      );
    }
    expect(gemini.ledger("truncated-e").requests).toBe(1000);
    expect(getEventListeners(consumer.signal, "abort").length).toBe(before);
  }, 60_000);
});

describe("provider quirks", () => {
  it("MALFORMED_FUNCTION_CALL is typed the same streamed or not, with its message", async () => {
    const malformed = {
      candidates: [
        {
          content: { role: "model", parts: [] },
          finishReason: "MALFORMED_FUNCTION_CALL",
          finishMessage: "Malformed function call: print(default_api.x(",
          index: 0,
        },
      ],
      usageMetadata: { promptTokenCount: 77, candidatesTokenCount: 0 },
    };
    plain = await startStandInServer((request) =>
      request.path.includes("streamGenerateContent") ? { sse: [malformed] } : { json: malformed },
    );
    const gem = model(plain.url, { maxAttempts: 1 });
    const whole = await failure(gem.generate(ask("x")));
    const streamed = await failure(
      (async () => {
        for await (const _part of gem.stream(ask("x"))) {
          // drain
        }
      })(),
    );
    for (const error of [whole, streamed]) {
      expect(error.code).toBe(LlmErrorCode.badResponse);
      expect(error.message).toContain("print(default_api.x(");
      expect(error.details.finishReason).toBe("MALFORMED_FUNCTION_CALL");
      expect(usageOfError(error)?.inputTokens).toBe(77);
    }
  });

  it("GOOGLE_GEMINI_BASE_URL is honoured when no base URL is configured", async () => {
    const gemini = await misbehaving();
    const previous = process.env.GOOGLE_GEMINI_BASE_URL;
    process.env.GOOGLE_GEMINI_BASE_URL = gemini.url;
    try {
      const gem = new GeminiModel({ apiKey: "k", model: "gemini-3-pro-preview", retry: { maxAttempts: 1 } });
      const result = await gem.generate(ask("truncated-f"));
      expect(result.finishReason).toBe("length");
      expect(gemini.ledger("truncated-f").requests).toBe(1);
    } finally {
      if (previous === undefined) delete process.env.GOOGLE_GEMINI_BASE_URL;
      else process.env.GOOGLE_GEMINI_BASE_URL = previous;
    }
  });
});
