import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createScriptedModel } from "@insitu/llm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvalItem } from "./datasets.js";
import { judgeRun } from "./judge-run.js";
import { formatPythonTemplate, judgeItem, parseAnswerScore, parseXbenchVerdict } from "./judges.js";

// The judge here is the SCRIPTED (fake) model: these tests check what we send and how we read replies.
const hleItem: EvalItem = { id: "q1", question: "What is 6 × 7?", answer: "42", judge: { kind: "hle" } };

describe("judgeItem", () => {
  it("HLE: structured verdict; the prediction's own confidence wins over the judge's reading", async () => {
    const model = createScriptedModel([
      { json: { extracted_final_answer: "42", reasoning: "matches", correct: "yes", confidence: 100 } },
    ]);
    const { verdict } = await judgeItem(model, hleItem, {
      id: "q1",
      status: "completed",
      finalAnswer: "42",
      confidence: 80,
    });
    expect(verdict).toMatchObject({ correct: true, extractedAnswer: "42", confidence: 0.8 });
    const sent = model.calls[0]?.messages[0];
    expect(sent && "content" in sent ? sent.content : "").toContain("[correct_answer]: 42");
    expect(sent && "content" in sent ? sent.content : "").toContain("Final Answer: 42");
    expect(model.calls[0]?.responseSchema).toBeDefined();
  });

  it("a prediction without an answer is wrong without a judge call", async () => {
    const model = createScriptedModel([]);
    const { verdict, usage } = await judgeItem(model, hleItem, { id: "q1", status: "failed" });
    expect(verdict).toEqual({ correct: false, shortcut: "no answer (failed)" });
    expect(usage.inputTokens).toBe(0);
    expect(model.calls).toHaveLength(0);
  });

  it("DeepSearchQA: every part found and nothing extra, else wrong", async () => {
    const item: EvalItem = {
      id: "d",
      question: "Two noble gases?",
      answer: "Helium, Neon",
      judge: { kind: "dsqa", answerType: "Set Answer" },
    };
    const reply = (neon: boolean, extra: string[]) => ({
      json: {
        "Answer Correctness": {
          Explanation: "x",
          "Correctness Details": { Helium: true, Neon: neon },
          "Excessive Answers": extra,
        },
      },
    });
    const model = createScriptedModel([reply(true, []), reply(true, ["Argon"]), reply(false, [])]);
    const prediction = { id: "d", status: "completed", finalAnswer: "Helium, Neon" };
    expect((await judgeItem(model, item, prediction)).verdict.correct).toBe(true);
    expect((await judgeItem(model, item, prediction)).verdict).toMatchObject({
      correct: false,
      excessive: ["Argon"],
    });
    expect((await judgeItem(model, item, prediction)).verdict.correct).toBe(false);
  });

  it("xbench: exact match scores without a call; otherwise the three-line verdict decides", async () => {
    const item: EvalItem = { id: "x", question: "2^10?", answer: "1024", judge: { kind: "xbench" } };
    const model = createScriptedModel([
      "最终答案: 1,024\n解释: 数值相同\n结论: 正确",
      "最终答案: 1000\n解释: 不同\n结论：错误",
    ]);
    expect(
      (await judgeItem(model, item, { id: "x", status: "completed", finalAnswer: " 1024 " })).verdict,
    ).toMatchObject({ correct: true, shortcut: "exact match" });
    expect(model.calls).toHaveLength(0);
    expect(
      (await judgeItem(model, item, { id: "x", status: "completed", finalAnswer: "1,024" })).verdict,
    ).toMatchObject({ correct: true, extractedAnswer: "1,024" });
    expect(
      (await judgeItem(model, item, { id: "x", status: "completed", finalAnswer: "1000" })).verdict.correct,
    ).toBe(false);
  });

  it("FinSearchComp: the item's own prompts, answer_score 1 is right", async () => {
    const item: EvalItem = {
      id: "f",
      question: "CAGR?",
      answer: "10",
      judge: {
        kind: "finsearchcomp",
        systemPrompt: "You grade finance.",
        template: 'Q {prompt} R {response_reference} A {response} reply {{"answer_score": n}}',
      },
    };
    const model = createScriptedModel(['{"answer_score": 1}\n【评分依据】matches', '{"answer_score": 0}']);
    const right = await judgeItem(model, item, { id: "f", status: "completed", finalAnswer: "10%" });
    expect(right.verdict).toMatchObject({ correct: true, explanation: "matches" });
    expect(model.calls[0]?.system).toBe("You grade finance.");
    const sent = model.calls[0]?.messages[0];
    expect(sent && "content" in sent ? sent.content : "").toBe(
      'Q CAGR? R 10 A Final Answer: 10% reply {"answer_score": n}',
    );
    expect(
      (await judgeItem(model, item, { id: "f", status: "completed", finalAnswer: "12%" })).verdict.correct,
    ).toBe(false);
  });

  it("parsers", () => {
    expect(parseAnswerScore('text {"answer_score": 1} more')).toBe(1);
    expect(parseAnswerScore("answer_score: 0")).toBe(0);
    expect(parseAnswerScore("nothing")).toBeUndefined();
    expect(parseXbenchVerdict("最终答案：无\n解释：没有答案\n结论：错误")).toEqual({
      correct: false,
      extracted: "无",
      explanation: "没有答案",
    });
    expect(formatPythonTemplate("{a} {{b}} {c}", { a: "1" })).toBe("1 {b} {c}");
  });
});

describe("judgeRun", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "insitu-judge-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("caches verdicts so a second run makes no judge call; a failed judge call is retried next run", async () => {
    const items: EvalItem[] = [
      { id: "a", question: "1+1?", answer: "2", judge: { kind: "generic" } },
      { id: "b", question: "2+2?", answer: "4", judge: { kind: "generic" } },
      { id: "c", question: "3+3?", answer: "6", judge: { kind: "generic" } },
    ];
    const predictions = new Map([
      ["a", { prediction: { id: "a", status: "completed", finalAnswer: "2" }, figures: { costUsd: 0.01 } }],
      ["b", { prediction: { id: "b", status: "completed", finalAnswer: "5" }, figures: {} }],
    ]);
    let fail = true;
    const model = createScriptedModel((request) => {
      const first = request.messages[0];
      const prompt = first && "content" in first ? (first.content ?? "") : "";
      if (prompt.includes("Final Answer: 5") && fail)
        return { error: { code: "LLM_UNAVAILABLE", message: "judge down" } };
      return {
        json: { extracted_answer: "x", correct: prompt.includes("Final Answer: 2"), explanation: "scripted" },
      };
    });
    const cachePath = join(dir, "judged.jsonl");
    const first = await judgeRun({ items, predictions, model, cachePath, concurrency: 2 });
    expect(first.scored.map((s) => [s.item.id, s.verdict.correct])).toEqual([
      ["a", true],
      ["b", false],
      ["c", false],
    ]);
    expect(first.failed).toEqual([{ id: "b", error: expect.stringContaining("judge down") }]);
    expect(model.calls).toHaveLength(2); // c has no prediction: no call
    fail = false;
    const second = await judgeRun({ items, predictions, model, cachePath });
    expect(second.cached).toBe(2); // a, and c's "no answer" verdict
    expect(model.calls).toHaveLength(3); // only b again
    expect(second.scored.map((s) => s.verdict.correct)).toEqual([true, false, false]);
    const third = await judgeRun({ items, predictions, model, cachePath });
    expect(third.cached).toBe(3);
    expect(model.calls).toHaveLength(3);
    expect((await readFile(cachePath, "utf8")).trim().split("\n")).toHaveLength(3);
  });
});
