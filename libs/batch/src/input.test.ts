import { describe, expect, it } from "vitest";
import { batchRunId, batchTaskId, parseQuestions } from "./input.js";

function problem(text: string, maxBytes?: number): string {
  try {
    parseQuestions(text, maxBytes === undefined ? {} : { maxBytes });
  } catch (error) {
    return (error as Error).message;
  }
  return "no error";
}

describe("questions files", () => {
  it("reads items, keeps unknown fields, skips blank lines", () => {
    const items = parseQuestions(
      '{"id": 1, "question": "a?", "answer": "x", "topic": "t"}\n\n{"id": "b", "question": "b?", "attachments": ["f.csv"]}\n',
    );
    expect(items).toEqual([
      { id: "1", question: "a?", answer: "x", extra: { topic: "t" }, line: 1 },
      { id: "b", question: "b?", attachments: ["f.csv"], extra: {}, line: 3 },
    ]);
  });

  it("names the line of every kind of bad input", () => {
    expect(problem('{"id": 1, "question": "a?"}\nnot json\n')).toMatch(/^line 2: not JSON/);
    expect(problem("[1, 2]\n")).toMatch(/^line 1: each line must be a JSON object/);
    expect(problem('{"question": "a?"}\n')).toBe('line 1: needs an "id" (string or number)');
    expect(problem('{"id": 1, "question": "a?"}\n{"id": "1", "question": "b?"}\n')).toBe(
      'line 2: duplicate id "1" (first on line 1)',
    );
    expect(problem('{"id": 1, "question": "   "}\n')).toBe('line 1: the "question" is missing or empty');
    expect(problem(`{"id": 1, "question": "${"x".repeat(50_001)}"}\n`)).toMatch(
      /^line 1: the question has 50001 characters/,
    );
    expect(problem('{"id": 1, "question": "a?"}\n', 10)).toMatch(/at most 10 are accepted/);
    expect(problem("\n\n")).toBe("the questions file has no questions");
  });

  it("gives the same run and task ids for the same file and options, and safe task ids for any item id", () => {
    const text = '{"id": 1, "question": "a?"}\n';
    const options = { batchSize: 16, share: false, warmStart: "zero" };
    expect(batchRunId(text, options)).toBe(batchRunId(text, options));
    expect(batchRunId(text, options)).not.toBe(batchRunId(text, { ...options, share: true }));
    expect(batchTaskId("abc", "q-1")).toBe("b-abc-q-1");
    expect(batchTaskId("abc", "a/b c")).toMatch(/^b-abc-[0-9a-f]{24}$/);
  });
});
