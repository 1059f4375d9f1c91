import { TaskEventSchema } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import {
  EVENT_KINDS,
  batchBarrierRows,
  batchHeadline,
  describeEvent,
  formatAge,
  formatCount,
  formatEgl,
  formatRate,
  formatUsd,
  evalData,
  evalHeadline,
  growthData,
  isTerminalStatus,
  outcomeBars,
  statusClass,
  topToolRows,
} from "./format.js";

describe("dashboard formatting", () => {
  it("formats counts, rates and EGL, with a dash before the first call", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(12345)).toBe("12,345");
    expect(formatCount(undefined)).toBe("—");
    expect(formatCount(Number.NaN)).toBe("—");
    expect(formatRate(null)).toBe("—");
    expect(formatRate(1)).toBe("100%");
    expect(formatRate(0)).toBe("0%");
    expect(formatRate(0.8333)).toBe("83%");
    expect(formatRate(0.0456)).toBe("4.6%");
    expect(formatEgl(null)).toBe("—");
    expect(formatEgl(1)).toBe("1.000");
    expect(formatEgl(1 / 3)).toBe("0.333");
  });

  it("says how long ago a task started", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatAge("2026-01-01T11:59:48Z", now)).toBe("12 s ago");
    expect(formatAge("2026-01-01T11:57:00Z", now)).toBe("3 min ago");
    expect(formatAge("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
    expect(formatAge("2025-12-28T12:00:00Z", now)).toBe("4 d ago");
    expect(formatAge("2026-01-01T12:00:05Z", now)).toBe("0 s ago");
    expect(formatAge("not a time", now)).toBe("");
  });

  it("maps only known statuses to their own CSS class", () => {
    expect(statusClass("succeeded")).toBe("status-succeeded");
    expect(statusClass("budget-exceeded")).toBe("status-budget-exceeded");
    expect(statusClass('x" onmouseover="alert(1)')).toBe("status-unknown");
    expect(isTerminalStatus("failed")).toBe(true);
    expect(isTerminalStatus("executing")).toBe(false);
  });

  it("turns calls by outcome into bars, largest first, ignoring junk", () => {
    expect(outcomeBars({})).toEqual([]);
    expect(outcomeBars(undefined)).toEqual([]);
    expect(outcomeBars({ "execution-failure": 1, success: 3, weird: "x", negative: -1 })).toEqual([
      { outcome: "success", count: 3, fraction: 0.75 },
      { outcome: "execution-failure", count: 1, fraction: 0.25 },
    ]);
    expect(outcomeBars({ success: 0 })).toEqual([{ outcome: "success", count: 0, fraction: 0 }]);
  });

  it("joins the summary's top tools with the library listing, then the rest by calls", () => {
    const usage = (calls: number, successRate: number) => ({ calls, successRate });
    const rows = topToolRows(
      { topTools: [{ name: "b_tool", calls: 7 }] },
      {
        tools: [
          { name: "a_tool", description: "A", usage: usage(2, 0.5) },
          { name: "b_tool", description: "B", usage: usage(7, 1) },
          { name: "c_tool", description: "C", usage: usage(0, 0) },
        ],
      },
    );
    expect(rows).toEqual([
      { name: "b_tool", calls: 7, successRate: 1, description: "B" },
      { name: "a_tool", calls: 2, successRate: 0.5, description: "A" },
      { name: "c_tool", calls: 0, successRate: null, description: "C" },
    ]);
    expect(topToolRows({ topTools: [] }, { tools: [] })).toEqual([]);
    expect(topToolRows(undefined, undefined)).toEqual([]);
    expect(topToolRows({ topTools: [{ name: "gone", calls: 1 }] }, { tools: [] })).toEqual([
      { name: "gone", calls: 1, successRate: null, description: "" },
    ]);
    const many = { tools: Array.from({ length: 20 }, (_, i) => ({ name: `t${i}`, usage: usage(i, 1) })) };
    expect(topToolRows({}, many, 10)).toHaveLength(10);
  });

  it("describes each kind of task event in one line", () => {
    const base = { taskId: "t1", time: "2026-01-01T12:00:00Z" };
    expect(describeEvent({ ...base, kind: "task-start", question: "How many?" })).toBe("question: How many?");
    expect(
      describeEvent({
        ...base,
        kind: "plan-end",
        round: 1,
        toolsChosen: [],
        toolsRequested: ["count_vowels"],
      }),
    ).toBe("round 1: chose [], requested [count_vowels]");
    expect(
      describeEvent({
        ...base,
        kind: "tool-build-attempt",
        name: "count_vowels",
        attempt: 1,
        result: "passed",
        testsPassed: 4,
        testsTotal: 4,
      }),
    ).toBe("attempt 1 of count_vowels: passed (4/4 tests)");
    expect(
      describeEvent({
        ...base,
        kind: "tool-call-end",
        tool: "count_vowels",
        outcome: "success",
        durationMs: 12.4,
        output: '{"vowels":5}',
      }),
    ).toBe('count_vowels: success in 12 ms → {"vowels":5}');
    expect(
      describeEvent({ ...base, kind: "task-end", status: "succeeded", answer: { final_answer: "5" } }),
    ).toBe("succeeded → 5");
    expect(
      describeEvent({ ...base, kind: "task-end", status: "failed", error: { message: "no tool" } }),
    ).toBe("failed: no tool");
    expect(
      describeEvent({ ...base, kind: "tool-call-start", tool: "x_y", input: "a".repeat(500) }),
    ).toHaveLength("calling x_y()".length + 160);
    expect(describeEvent(null)).toBe("");
    expect(EVENT_KINDS).toContain("task-end");
  });

  it("names every kind of task event the contracts define, so the SSE panel listens for each", () => {
    const kinds = TaskEventSchema.options.map((option) => option.shape.kind.value);
    expect([...EVENT_KINDS].sort()).toEqual([...kinds].sort());
    expect(
      describeEvent({
        kind: "tool-review-pending",
        name: "fetch_weather",
        permissions: ["secret:API_KEY"],
        waiting: true,
      }),
    ).toBe("fetch_weather waits for review of secret:API_KEY (the task waits)");
  });
});

describe("growth curves", () => {
  it("takes query index, library size and EGL from the series, EGL null (a gap) before the first call", () => {
    expect(
      growthData({
        points: [
          { index: 1, librarySize: 0, egl: null },
          { index: 2, librarySize: 1, egl: 0.5 },
          { index: 3, librarySize: 1, egl: 0.25 },
          { librarySize: 9 },
        ],
      }),
    ).toEqual({ index: [1, 2, 3], library: [0, 1, 1], egl: [null, 0.5, 0.25] });
    expect(growthData(undefined)).toEqual({ index: [], library: [], egl: [] });
  });

  it("turns an eval state into the Evaluation panel's series, with gaps (null) for missing figures", () => {
    const state = {
      benchmark: "jsonl",
      status: "judging",
      run: 1,
      runs: 2,
      items: 3,
      answered: 3,
      judged: 2,
      accuracy: null,
      byCategory: [
        { name: "numbers", correct: 1, total: 2, accuracy: 50 },
        { name: "words", correct: 1, total: 1, accuracy: 100 },
      ],
      batches: [
        { batch: 1, queries: 1, librarySize: 1, egl: 1 },
        { batch: 2, queries: 3, librarySize: 2, egl: "x" },
      ],
      costPerQuery: [
        { query: 1, costUsd: 0.01 },
        { query: 2, costUsd: 0 },
      ],
    };
    expect(evalData(state)).toEqual({
      categories: { x: [0, 1], names: ["numbers", "words"], notes: ["1/2", "1/1"], accuracy: [50, 100] },
      queries: [1, 3],
      library: [1, 2],
      egl: [1, null],
      costQuery: [1, 2],
      cost: [0.01, 0],
    });
    expect(evalData(undefined).queries).toEqual([]);
    expect(evalHeadline(state)).toBe("jsonl · run 1/2 · judging · 3/3 answered · 2 judged · accuracy —");
    expect(evalHeadline({ ...state, accuracy: 66.6667 })).toContain("accuracy 66.7%");
  });
});

describe("batch barrier reports", () => {
  it("lists each barrier's groups, merges, refused merges with their reason, tokens and cost", () => {
    const view = {
      runId: "0123456789ab",
      status: "running",
      done: 12,
      total: 24,
      batches: 3,
      rows: [
        {
          batch: 1,
          librarySize: 3,
          rejected: [],
          barrier: {
            groupsFound: 2,
            merged: [{ name: "count_vowels", members: ["count_vowels", "tally_vowels"] }],
            rejected: [
              { members: ["reverse_text", "flip_text"], stage: "review", reason: "replay 2 differs" },
            ],
            tokens: 1234,
            costUsd: 0.0012,
          },
        },
        { batch: 2, librarySize: 3, rejected: [] },
      ],
    };
    expect(batchBarrierRows(view)).toEqual([
      {
        batch: 1,
        groupsFound: 2,
        merged: ["count_vowels ← count_vowels + tally_vowels"],
        rejected: ["reverse_text + flip_text (review): replay 2 differs"],
        tokens: 1234,
        costUsd: 0.0012,
        librarySize: 3,
      },
      { batch: 2, groupsFound: null, merged: [], rejected: [], tokens: null, costUsd: null, librarySize: 3 },
    ]);
    expect(batchHeadline(view)).toBe("run 0123456789ab · running · 12/24 done · 2/3 batches");
    expect(formatUsd(0.0012)).toBe("$0.0012");
    expect(formatUsd(undefined)).toBe("—");
    expect(batchBarrierRows(undefined)).toEqual([]);
  });
});
