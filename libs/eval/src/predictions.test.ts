import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAnswer, readPredictions } from "./predictions.js";

describe("readPredictions", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "insitu-pred-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the original system's lines: JSON-string predictions, error dicts, the error string", async () => {
    const path = join(dir, "original.jsonl");
    const lines = [
      {
        question_index: "q1",
        question: "a",
        prediction: JSON.stringify({ final_answer: "42", reasoning_summary: "r" }),
      },
      {
        question_index: "q2",
        question: "b",
        prediction: { error: "Timeout after 5400 seconds", task_id: "q2" },
      },
      { question_index: "q3", question: "c", prediction: "['Error in the task']" },
      {
        question_index: 4,
        question: "d",
        prediction: 'garbage "final_answer": "Paris", "reasoning_summary": "x',
      },
    ];
    await writeFile(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
    const read = await readPredictions(path);
    expect(read.get("q1")?.prediction).toEqual({
      id: "q1",
      status: "completed",
      finalAnswer: "42",
      reasoningSummary: "r",
    });
    expect(read.get("q2")?.prediction).toEqual({ id: "q2", status: "failed" });
    expect(read.get("q3")?.prediction).toEqual({ id: "q3", status: "failed" });
    expect(read.get("4")?.prediction.finalAnswer).toBe("Paris");
  });

  it("reads insitu's lines with figures; a later line for an id wins", async () => {
    const path = join(dir, "insitu.jsonl");
    const lines = [
      { id: "a", status: "failed", prediction: null },
      {
        id: "a",
        status: "completed",
        prediction: { final_answer: "5", reasoning_summary: "s", confidence: 85 },
        tokens: { input: 900, output: 40 },
        costUsd: 0.002,
        rounds: 1,
        toolsCreated: ["count_vowels"],
        wallMs: 1200,
      },
    ];
    await writeFile(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
    const read = await readPredictions(path);
    expect(read.get("a")).toEqual({
      prediction: { id: "a", status: "completed", finalAnswer: "5", reasoningSummary: "s", confidence: 85 },
      figures: {
        inputTokens: 900,
        outputTokens: 40,
        costUsd: 0.002,
        rounds: 1,
        toolsCreated: 1,
        wallMs: 1200,
      },
    });
  });

  it("a line without an id is an error naming the line", async () => {
    const path = join(dir, "noid.jsonl");
    await writeFile(path, '{"id":"a","prediction":"1"}\n{"prediction":"2"}\n');
    await expect(readPredictions(path)).rejects.toThrow(/noid\.jsonl:2: a prediction without an id/);
  });

  it("plain text is the answer", () => {
    expect(readAnswer("  Canberra ")).toEqual({ finalAnswer: "Canberra" });
    expect(readAnswer(undefined)).toEqual({});
  });
});
