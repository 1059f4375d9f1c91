import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MisbehavingStack,
  type TaskOutcome,
  startMisbehavingStack,
} from "../harness/misbehaving-stack.js";

/**
 * The whole stack against a misbehaving provider (issue 18): every role service runs the real
 * @google/genai SDK against the misbehaving Gemini stand-in (FAKE provider, real wire format).
 * Each task's question picks the misbehaviour. Figures for 20 tasks and a 20 s wall budget come
 * from test/bench/llm/misbehaving.ts; this test keeps the same bounds on a few tasks.
 */

const RETRY_AFTER_MS = 1000;
const MAX_ATTEMPTS = 3;
const HEAVY = 50_000;
const SLOW_MS = 1200;
const WALL_MS = 3000;
const GRACE_MS = 1000;

let env: MisbehavingStack;
const logs: string[] = [];

beforeAll(async () => {
  env = await startMisbehavingStack({
    stand: { retryAfterMs: RETRY_AFTER_MS, heavyTokens: HEAVY, slowMs: SLOW_MS, hugeBytes: 3 * 1024 * 1024 },
    retry: { maxAttempts: MAX_ATTEMPTS, initialDelayMs: 100, maxDelayMs: 1000, maxTotalMs: 20_000 },
    services: ["registry", "manager", "tool-developer", "executor", "integrator"],
    taskTimeoutMs: 30_000,
    onLog: (service, line) => logs.push(`[${service}] ${line.slice(0, 1000)}`),
  });
}, 90_000);

afterAll(async () => {
  await env?.stop();
});

function gaps(at: number[]): number[] {
  return at.slice(1).map((time, index) => time - (at[index] as number));
}

function explain(outcome: TaskOutcome): string {
  return JSON.stringify({
    record: outcome.record,
    ledger: env.gemini.ledger(outcome.key),
    logs: logs.slice(-20),
  });
}

describe("a misbehaving provider through the whole stack", () => {
  it("only 429/503 answers: each task makes at most the configured requests, honours every Retry-After, and fails once", async () => {
    const outcomes = await Promise.all([
      ...["a", "b", "c"].map((id) => env.run("ratelimit", id)),
      ...["a", "b", "c"].map((id) => env.run("unavailable", id)),
    ]);
    for (const outcome of outcomes) {
      const ledger = env.gemini.ledger(outcome.key);
      expect(outcome.record.status, explain(outcome)).toBe("failed");
      expect(outcome.record.error?.code).toBe(
        outcome.key.startsWith("ratelimit") ? "LLM_RATE_LIMITED" : "LLM_UNAVAILABLE",
      );
      // One retry budget: no redelivery of the step starts a fresh one.
      expect(ledger.requests, explain(outcome)).toBeLessThanOrEqual(MAX_ATTEMPTS);
      expect(ledger.requests).toBeGreaterThanOrEqual(1);
      for (const gap of gaps(ledger.at))
        expect(gap, explain(outcome)).toBeGreaterThanOrEqual(RETRY_AFTER_MS - 10);
    }
  }, 60_000);

  it("billed failures are in the task record and stop the task at its token budget", async () => {
    const [heavy, blocked] = await Promise.all([
      env.run("emptyheavy", "a", { tokens: 90_000 }),
      env.run("blocked", "a"),
    ]);
    const heavyLedger = env.gemini.ledger(heavy.key);
    expect(heavy.record.status, explain(heavy)).toBe("budget-exceeded");
    expect(heavy.record.error?.code).toBe("BUDGET_EXCEEDED");
    expect(heavyLedger.requests).toBe(2);
    expect(heavy.record.usage.inputTokens + heavy.record.usage.outputTokens).toBe(heavyLedger.servedTokens);
    expect(heavyLedger.servedTokens).toBe(2 * HEAVY);

    expect(blocked.record.status, explain(blocked)).toBe("failed");
    expect(blocked.record.error?.code).toBe("LLM_SAFETY_BLOCK");
    expect(blocked.record.usage.inputTokens).toBe(env.gemini.ledger(blocked.key).servedTokens);
    expect(blocked.record.usage.inputTokens).toBe(HEAVY);
  }, 60_000);

  it("a 3 MB invalid answer: repair requests stay bounded, usage recorded and the budget enforced; truncated JSON is never accepted", async () => {
    const [huge, truncated] = await Promise.all([env.run("huge", "a"), env.run("truncated", "a")]);
    const ledger = env.gemini.ledger(huge.key);
    // Three answers of ~786k billed output tokens each cross the default 2 M token budget during
    // the call: the task ends BUDGET_EXCEEDED with every served token recorded.
    expect(huge.record.status, explain(huge)).toBe("budget-exceeded");
    expect(huge.record.error?.code).toBe("BUDGET_EXCEEDED");
    expect(ledger.requests).toBe(3);
    const first = ledger.bodyChars[0] as number;
    for (const size of ledger.bodyChars.slice(1)) expect(size - first).toBeLessThan(16_000);
    const usage = huge.record.usage;
    expect(usage.inputTokens + usage.outputTokens).toBe(ledger.servedTokens);

    expect(truncated.record.status, explain(truncated)).toBe("failed");
    expect(truncated.record.error?.message).toContain("cut off at the output token limit");
    expect(truncated.record.rounds).toEqual([]);
  }, 60_000);

  it("slow answers with a short wall budget: every task ends by budget + grace as BUDGET_EXCEEDED, all it was served charged", async () => {
    const outcomes = await Promise.all(["a", "b", "c"].map((id) => env.run("slow", id, { wallMs: WALL_MS })));
    for (const outcome of outcomes) {
      expect(outcome.record.status, explain(outcome)).toBe("budget-exceeded");
      expect(outcome.record.error?.code).toBe("BUDGET_EXCEEDED");
      expect(outcome.wallMs, explain(outcome)).toBeLessThanOrEqual(WALL_MS + GRACE_MS);
      const usage = outcome.record.usage;
      expect(usage.inputTokens + usage.outputTokens).toBe(env.gemini.ledger(outcome.key).servedTokens);
      expect(env.gemini.ledger(outcome.key).servedTokens).toBeGreaterThan(0);
    }
  }, 60_000);

  it("every role service exposes the insitu_llm_* series; the manager's count calls, tokens, errors and retries", async () => {
    for (const role of ["manager", "tool-developer", "executor", "integrator"]) {
      const text = await (await fetch(`${env.stack.url(role)}/metrics`)).text();
      expect(text, role).toContain("# TYPE insitu_llm_calls_total counter");
      expect(text, role).toContain("# TYPE insitu_llm_retries_total counter");
    }
    const manager = await (await fetch(`${env.stack.url("manager")}/metrics`)).text();
    expect(manager).toMatch(/insitu_llm_calls_total\{[^}]*role="manager"[^}]*outcome="error"[^}]*\} [1-9]/);
    expect(manager).toMatch(/insitu_llm_errors_total\{[^}]*code="LLM_RATE_LIMITED"[^}]*\} [1-9]/);
    expect(manager).toMatch(/insitu_llm_retries_total\{[^}]*role="manager"[^}]*\} [1-9]/);
    expect(manager).toMatch(/insitu_llm_tokens_total\{[^}]*kind="input"[^}]*\} [1-9]/);
  });
});
