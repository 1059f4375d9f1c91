import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";
import { SCRIPTED_JUDGE, insituEval, stackArgs } from "./eval-client.js";

// `insitu eval` asking a committed sample set through `insitu batch` on the whole stack (real NATS,
// real Deno, every role and the evolver as processes), then judging it. The agent's model is the
// FAKE scripted model of the demo scenario (test/e2e/scenarios/demo/demo.json answers exactly the
// three questions of test/data/eval/own.jsonl); the judge is the FAKE scripted judge of
// test/e2e/scenarios/eval/judge.json.
const root = findRepoRoot();
let stack: Stack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "insitu-eval-run-"));
  stack = await startStack({
    env: { INSITU_SCRIPT: join(root, "test/e2e/scenarios/demo/demo.json"), LOG_LEVEL: "warn" },
    onLog: () => {},
  });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("insitu eval through insitu batch", () => {
  it("asks every item on the running stack, judges the answers, and reports accuracy, convergence and cost", async () => {
    const out = join(dir, "report");
    const result = await insituEval(["--batch-size", "1", "--out", out, ...stackArgs(stack)], {
      cwd: dir,
      env: { INSITU_SCRIPT: SCRIPTED_JUDGE },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("run 1: asking 3 question(s) with insitu batch");
    expect(result.stdout).toContain("accuracy 100.00% (3/3), coverage 100.0%");
    const predictions = (await readFile(join(out, "run-1", "predictions.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map(
        (line) => JSON.parse(line) as { id: string; prediction: string; status: string; inputTokens: number },
      );
    expect(predictions.map((p) => [p.id, p.prediction, p.status])).toEqual([
      ["own-1", "5", "succeeded"],
      ["own-2", "8", "succeeded"],
      ["own-3", "12", "succeeded"],
    ]);
    expect(predictions.every((p) => p.inputTokens > 0)).toBe(true);
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as {
      runs: {
        metrics: { accuracy: { correct: number; total: number } };
        batches: { queries: number; librarySize: number; egl: number | null }[];
      }[];
    };
    expect(metrics.runs[0]?.metrics.accuracy).toMatchObject({ correct: 3, total: 3 });
    // One batch per question, a barrier after each: the library grows to count_vowels, then sum_number_list.
    expect(metrics.runs[0]?.batches.map((b) => [b.queries, b.librarySize])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
    // Cumulative EGL (tools admitted ÷ tool calls so far): 1/1, 1/2, then the list-sum tool is admitted
    // and called twice (a crash, then the repaired version) — 2/4.
    expect(metrics.runs[0]?.batches.map((b) => b.egl)).toEqual([1, 0.5, 0.5]);
    const report = await readFile(join(out, "report.md"), "utf8");
    expect(report).toContain("| 1 | 3 | 3 | 100.0% |");
    expect(report).toContain("## Convergence");
    expect((await readdir(join(out, "plots"))).sort()).toEqual([
      "accuracy-by-category.png",
      "accuracy-by-category.svg",
      "cost-per-query.png",
      "cost-per-query.svg",
      "egl.png",
      "egl.svg",
      "library-size.png",
      "library-size.svg",
    ]);
    const egl = await readFile(join(out, "plots", "egl.svg"), "utf8");
    expect(egl.match(/<circle /g)).toHaveLength(3);
  });
});
