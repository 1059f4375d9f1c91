import type { EvalState } from "@insitu/contracts";
import { scoreRun } from "@insitu/eval";
import { describe, expect, it } from "vitest";
import { LiveEvalState, evalIdFor, thin } from "./live-state.js";

/** FAKE store (unit test): keeps every state written, in order. */
function memoryStore() {
  const writes: EvalState[] = [];
  return { writes, put: async (_key: string, value: EvalState) => writes.push(value) };
}

const clock = () => new Date("2026-12-05T10:00:00.000Z");

describe("LiveEvalState", () => {
  it("writes the running figures after every change: answers with cost, batch points, then accuracy per category", async () => {
    const store = memoryStore();
    const live = new LiveEvalState(
      store,
      { evalId: "jsonl-1", benchmark: "jsonl", items: 2, runs: 1 },
      clock,
    );
    await live.startRun(1);
    await live.answered({ usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.02, toolCalls: 1 } });
    await live.batch({ batch: 1, librarySize: 1, eglCumulative: 1 });
    await live.answered({ usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.01, toolCalls: 2 } });
    await live.batch({ batch: 2, librarySize: 2, eglCumulative: 0.5 });
    expect(store.writes.at(-1)).toMatchObject({
      status: "asking",
      answered: 2,
      batches: [
        { batch: 1, queries: 1, librarySize: 1, egl: 1 },
        { batch: 2, queries: 2, librarySize: 2, egl: 0.5 },
      ],
      costPerQuery: [
        { query: 1, costUsd: 0.02 },
        { query: 2, costUsd: 0.01 },
      ],
    });
    await live.judging(1);
    expect(store.writes.at(-1)).toMatchObject({ status: "judging", judged: 1, accuracy: null });
    const item = (id: string, category: string) => ({
      id,
      question: "q",
      answer: "a",
      category,
      judge: { kind: "generic" as const },
    });
    await live.judgedRun(
      scoreRun([
        {
          item: item("a", "math"),
          prediction: { id: "a", status: "completed", finalAnswer: "a" },
          verdict: { correct: true },
          figures: {},
        },
        {
          item: item("b", "words"),
          prediction: { id: "b", status: "failed" },
          verdict: { correct: false },
          figures: {},
        },
      ]),
    );
    await live.done();
    expect(store.writes.at(-1)).toMatchObject({
      status: "done",
      judged: 2,
      accuracy: 50,
      byCategory: [
        { name: "math", correct: 1, total: 1, accuracy: 100 },
        { name: "words", correct: 0, total: 1, accuracy: 0 },
      ],
    });
    expect(store.writes.length).toBe(8);
  });

  it("a store that fails is reported once and the eval goes on", async () => {
    const errors: unknown[] = [];
    const failing = { put: async () => Promise.reject(new Error("no NATS")) };
    const live = new LiveEvalState(
      failing,
      { evalId: "x", benchmark: "jsonl", items: 1, runs: 1 },
      clock,
      (e) => errors.push(e),
    );
    await live.startRun(1);
    await live.answered({ usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 0 } });
    await live.done();
    expect(errors).toHaveLength(1);
    expect(live.current.status).toBe("done");
  });

  it("ids are stable per (benchmark, output folder) and valid KV keys", () => {
    expect(evalIdFor("jsonl", "/tmp/a")).toBe(evalIdFor("jsonl", "/tmp/a"));
    expect(evalIdFor("jsonl", "/tmp/a")).not.toBe(evalIdFor("jsonl", "/tmp/b"));
    expect(evalIdFor("x.bench/1", "/o")).toMatch(/^x-bench-1-[0-9a-f]{12}$/);
  });

  it("keeps a long eval's curves under the point cap (every other point, the newest kept)", async () => {
    expect(thin([1, 2, 3], 3)).toEqual([1, 2, 3]);
    expect(thin([1, 2, 3, 4], 3)).toEqual([1, 3, 4]);
    expect(thin([1, 2, 3, 4, 5], 4)).toEqual([1, 3, 5]);
    const store = memoryStore();
    const live = new LiveEvalState(
      store,
      { evalId: "long", benchmark: "jsonl", items: 5000, runs: 1 },
      clock,
    );
    for (let i = 0; i < 2100; i++)
      await live.answered({ usage: { inputTokens: 0, outputTokens: 0, costUsd: 0.001, toolCalls: 0 } });
    const points = live.current.costPerQuery;
    expect(points.length).toBeLessThanOrEqual(2000);
    expect(points.at(-1)?.query).toBe(2100);
    expect(Buffer.byteLength(JSON.stringify(live.current))).toBeLessThan(256 * 1024);
  });
});
