import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRepoRoot } from "../harness/stack.js";

// `insitu eval` as a user runs it, on the committed sample files (written for these tests) with the
// FAKE scripted judge of test/e2e/scenarios/eval/judge.json.
const run = promisify(execFile);
const root = findRepoRoot();
const insitu = join(root, "bin", "insitu");
const env = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/tmp",
  NO_COLOR: "1",
  INSITU_SCRIPT: join(root, "test/e2e/scenarios/eval/judge.json"),
};
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "insitu-eval-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function evalCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(insitu, ["eval", ...args], { cwd: dir, env, timeout: 60_000 }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

describe("insitu eval on predictions", () => {
  it("scores every dataset item (missing = wrong), reports coverage apart, writes the report and plots, resumes from its cache", async () => {
    const predictions = join(dir, "predictions.jsonl");
    await writeFile(
      predictions,
      [
        {
          id: "own-1",
          status: "completed",
          prediction: { final_answer: "5", reasoning_summary: "counted", confidence: 90 },
          tokens: { input: 1000, output: 50 },
          costUsd: 0.01,
        },
        {
          id: "own-2",
          status: "completed",
          prediction: { final_answer: "7", reasoning_summary: "counted", confidence: 60 },
          tokens: { input: 800, output: 40 },
          costUsd: 0.008,
        },
      ]
        .map((line) => JSON.stringify(line))
        .join("\n"),
    );
    const out = join(dir, "out");
    const first = await evalCli(
      join(root, "test/data/eval/own.jsonl"),
      "--benchmark",
      "jsonl",
      "--predictions",
      predictions,
      "--out",
      out,
    );
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("accuracy 33.33% (1/3), coverage 66.7%, 0 verdicts from cache");
    const report = await readFile(join(out, "report.md"), "utf8");
    expect(report).toContain("| 1 | 3 | 2 | 66.7% | 33.33 ± 53.34 (1/3) |");
    expect(report).toContain("| numbers | 0/1 |");
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
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as {
      runs: { metrics: { calibratedItems: number } }[];
    };
    expect(metrics.runs[0]?.metrics.calibratedItems).toBe(2);
    const again = await evalCli(
      join(root, "test/data/eval/own.jsonl"),
      "--benchmark",
      "jsonl",
      "--predictions",
      predictions,
      "--out",
      out,
    );
    expect(again.stdout).toContain("3 verdicts from cache");
  });

  it("HLE with the original system's prediction format", async () => {
    const predictions = join(dir, "original.jsonl");
    await writeFile(
      predictions,
      [
        {
          question_index: "hle-s4",
          question: "pixel",
          prediction: JSON.stringify({ final_answer: "red", reasoning_summary: "looked" }),
        },
        {
          question_index: "hle-s5",
          question: "17×3",
          prediction: { error: "Timeout after 5400 seconds", task_id: "hle-s5" },
        },
      ]
        .map((line) => JSON.stringify(line))
        .join("\n"),
    );
    const result = await evalCli(
      join(root, "test/data/eval/hle.jsonl"),
      "--benchmark",
      "hle",
      "--predictions",
      predictions,
      "--out",
      join(dir, "hle"),
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("accuracy 20.00% (1/5), coverage 20.0%");
  });

  it("bad input is a usage error naming what is wrong", async () => {
    const noBench = await evalCli(join(root, "test/data/eval/own.jsonl"), "--predictions", "x.jsonl");
    expect(noBench.code).toBe(2);
    expect(noBench.stderr).toContain("--benchmark must be one of");
    const bad = join(dir, "bad.jsonl");
    await writeFile(bad, '{"id":"a","question":"q","answer":"1"}\n{"id":"a","question":"q","answer":"1"}\n');
    const dup = await evalCli(bad, "--benchmark", "jsonl", "--predictions", bad);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/bad\.jsonl:2: duplicate id "a"/);
  });
});
