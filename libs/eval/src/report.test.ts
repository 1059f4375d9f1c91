import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvalItem } from "./datasets.js";
import { barChart, lineChart } from "./plots.js";
import { writeReport } from "./report.js";
import { type ScoredItem, scoreRun } from "./score.js";

function scored(
  id: string,
  category: string,
  correct: boolean,
  answer: string | undefined,
  cost: number,
): ScoredItem {
  const item: EvalItem = { id, question: `q ${id}`, answer: "x", category, judge: { kind: "generic" } };
  return {
    item,
    prediction: {
      id,
      status: answer === undefined ? "failed" : "completed",
      ...(answer === undefined ? {} : { finalAnswer: answer, confidence: 90 }),
    },
    verdict: { correct, ...(answer === undefined ? {} : { confidence: 0.9 }) },
    figures: { inputTokens: 1000, outputTokens: 100, costUsd: cost, wallMs: 2000 },
  };
}

describe("scoreRun + writeReport", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "insitu-report-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("missing answers count as wrong; coverage apart; every file written", async () => {
    const run1 = [
      scored("a", "math", true, "1", 0.1),
      scored("b", "math", false, "2", 0.1),
      scored("c", "words", true, "3", 0.2),
      scored("d", "words", false, undefined, 0),
    ];
    const m1 = scoreRun(run1, { inputTokens: 50, outputTokens: 5 });
    expect(m1.items).toBe(4);
    expect(m1.answered).toBe(3);
    expect(m1.coverage).toBe(75);
    expect(m1.accuracy.accuracy).toBe(50);
    expect(m1.byCategory.math?.accuracy).toBe(50);
    expect(m1.byCategory.words).toMatchObject({ correct: 1, total: 2 });
    // confidence .9 on three answered items, two wrong… one bin: |.9 − 2/3|
    expect(m1.calibratedItems).toBe(3);
    expect(m1.calibrationError).toBeCloseTo(23.333, 2);
    expect(m1.perQuery.costUsd).toBeCloseTo(0.1, 6);
    const run2 = run1.map((s, i) => (i === 1 ? { ...s, verdict: { correct: true } } : s));
    const m2 = scoreRun(run2);
    const summary = await writeReport(dir, {
      benchmark: "jsonl",
      dataset: "own.jsonl",
      judge: { provider: "scripted", model: "judge" },
      protocol: { batchSize: 2, start: "zero" },
      runs: [
        {
          metrics: m1,
          scored: run1,
          batches: [
            { batch: 1, queries: 2, librarySize: 1, egl: 0.5 },
            { batch: 2, queries: 4, librarySize: 1, egl: 0.25 },
          ],
        },
        {
          metrics: m2,
          scored: run2,
          batches: [
            { batch: 1, queries: 2, librarySize: 1, egl: 0.5 },
            { batch: 2, queries: 4, librarySize: 1, egl: 0.25 },
          ],
        },
      ],
    });
    expect(summary.accuracy).toMatchObject({ mean: 62.5, runs: 2 });
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(["convergence.csv", "metrics.json", "plots", "report.md", "results.csv"]);
    const plots = (await readdir(join(dir, "plots"))).sort();
    expect(plots).toEqual([
      "accuracy-by-category.png",
      "accuracy-by-category.svg",
      "cost-per-query.png",
      "cost-per-query.svg",
      "egl.png",
      "egl.svg",
      "library-size.png",
      "library-size.svg",
    ]);
    const report = await readFile(join(dir, "report.md"), "utf8");
    expect(report).toContain("| 1 | 4 | 3 | 75.0% | 50.00 ± 49.00 (2/4) |");
    expect(report).toContain("Across 2 runs: accuracy 62.50 ± 17.68");
    expect(report).toContain("| 2 | 4 | 1 | 0.2500 |");
    const csv = await readFile(join(dir, "results.csv"), "utf8");
    expect(csv.split("\n")[0]).toBe(
      "run,id,category,status,correct,extracted_answer,final_answer,confidence,input_tokens,output_tokens,cost_usd,wall_ms,rounds,tools_created",
    );
    expect(csv).toContain("1,d,words,failed,false,,,,1000,100,0,2000,,");
    const metrics = JSON.parse(await readFile(join(dir, "metrics.json"), "utf8")) as { runs: unknown[] };
    expect(metrics.runs).toHaveLength(2);
  });
});

describe("plots", () => {
  it("escape every label and draw one bar per category", () => {
    const svg = barChart({
      title: "<t>",
      yLabel: "y",
      data: [
        { label: "a&b", value: 50, low: 40, high: 60 },
        { label: "c", value: 10 },
      ],
    });
    expect(svg).toContain("&lt;t&gt;");
    expect(svg).toContain("a&amp;b");
    expect(svg.match(/<rect x=/g)).toHaveLength(2);
    expect(svg).not.toContain("<t>");
  });

  it("a line chart without data says so", () => {
    expect(lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [] })).toContain("no data");
  });
});
