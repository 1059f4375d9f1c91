import type { TaskEvent } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import { formatUsd, renderEvent, renderSummary } from "./progress.js";

const base = { taskId: "t1", time: "2026-01-01T00:00:00.000Z" };

describe("renderEvent", () => {
  it("says what is planned, written, tested, registered and called", () => {
    const lines = (event: TaskEvent) => renderEvent(event).join("\n");
    expect(
      lines({
        ...base,
        kind: "plan-end",
        round: 1,
        toolsChosen: [],
        toolsRequested: ["count_vowels"],
        candidates: 0,
        guidance: "",
      }),
    ).toBe("● planning round 1: 0 candidate tools retrieved; reusing none; new tools needed: count_vowels");
    expect(
      lines({
        ...base,
        kind: "tool-build-start",
        round: 1,
        name: "count_vowels",
        description: "Counts vowels",
      }),
    ).toBe("✎ writing tool count_vowels — Counts vowels");
    expect(
      lines({
        ...base,
        kind: "tool-build-attempt",
        round: 1,
        name: "count_vowels",
        attempt: 1,
        result: "tests-failed",
        diagnostics: "expected 5, got 4",
        testsPassed: 2,
        testsTotal: 3,
      }),
    ).toBe("  attempt 1 of count_vowels: tests failed (2/3 tests passed)\n    expected 5, got 4");
    expect(
      lines({
        ...base,
        kind: "tool-build-end",
        round: 1,
        name: "count_vowels",
        ok: true,
        version: `sha256:${"a".repeat(64)}`,
      }),
    ).toBe("✔ registered count_vowels (sha256:aaaaaaaaaaaa…)");
    expect(
      lines({
        ...base,
        kind: "tool-call-start",
        round: 1,
        tool: "count_vowels",
        callId: "c1",
        input: '{"text":"hi"}',
      }),
    ).toBe('→ calling count_vowels({"text":"hi"})');
    expect(
      lines({
        ...base,
        kind: "tool-call-end",
        round: 1,
        tool: "count_vowels",
        callId: "c1",
        outcome: "success",
        durationMs: 41.6,
        output: '{"vowels":1}',
      }),
    ).toBe('← count_vowels: success in 42 ms — {"vowels":1}');
    expect(lines({ ...base, kind: "judge-end", round: 1, verdict: "FINISH", reason: "done" })).toBe(
      "● judge: FINISH — done",
    );
  });

  it("shortens long tool input and output to one line", () => {
    const [line] = renderEvent(
      {
        ...base,
        kind: "tool-call-start",
        round: 1,
        tool: "x_y",
        callId: "c",
        input: `a\n${"b".repeat(500)}`,
      },
      { excerptChars: 20 },
    );
    expect(line).toBe(`→ calling x_y(a ${"b".repeat(17)}…)`);
  });

  it("colours only when asked", () => {
    expect(
      renderEvent(
        { ...base, kind: "judge-end", round: 1, verdict: "RETRY", reason: "r" },
        { color: true },
      )[0],
    ).toContain("\u001b[33m");
  });
});

describe("renderSummary", () => {
  it("prints the answer, tools created and reused, tokens and cost", () => {
    const text = renderSummary({
      status: "succeeded",
      answer: { final_answer: "5 vowels", reasoning_summary: "count_vowels said so" },
      toolsUsed: ["count_vowels", "fetch_url_text"],
      toolsCreated: ["count_vowels"],
      usage: { inputTokens: 12_345, outputTokens: 678, costUsd: 0.0042, toolCalls: 3 },
    }).join("\n");
    expect(text).toContain("Answer:\n5 vowels");
    expect(text).toContain("Tools created: count_vowels");
    expect(text).toContain("Tools reused:  fetch_url_text");
    expect(text).toContain("Tool calls: 3   Tokens: 12,345 in / 678 out   Cost: $0.0042");
  });

  it("explains a task that ended without an answer", () => {
    const text = renderSummary({
      status: "budget-exceeded",
      error: { code: "BUDGET_EXCEEDED", message: "3 rounds used" },
      toolsUsed: [],
      toolsCreated: [],
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 0 },
    }).join("\n");
    expect(text).toContain("No answer (budget-exceeded: BUDGET_EXCEEDED — 3 rounds used)");
    expect(formatUsd(1.5)).toBe("$1.50");
  });
});
