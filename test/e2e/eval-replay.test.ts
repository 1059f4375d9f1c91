import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";
import { SCRIPTED_JUDGE, insituEval } from "./eval-client.js";

// A recorded `insitu eval` replays offline to the same metrics (issue 14, point 6). The recorded
// run asks two items of test/data/eval/own.jsonl on the whole real stack (real nats-server, every
// role a process, tools run in the real Deno sandbox) with the FAKE scripted model of
// test/e2e/scenarios/demo/demo.json and the FAKE scripted judge of scenarios/eval/judge.json, every
// model exchange recorded (INSITU_RECORD_DIR). The replay runs a fresh stack and the CLI with
// INSITU_REPLAY_DIR and no model at all: only the cassettes can answer.
const root = findRepoRoot();
const SERVICES = ["registry", "sandbox", "manager", "tool-developer", "executor", "integrator", "evolver"];
let dir: string;
let cassettes: string;
const stacks: Stack[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "insitu-eval-replay-"));
  cassettes = join(dir, "cassettes");
});

afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

function evalCli(env: Record<string, string>, args: string[]) {
  return insituEval(args, { cwd: dir, env, timeoutMs: 90_000 });
}

/** Runs the eval on a fresh stack whose roles get `roleEnv`, then stops the stack. */
async function evalOnStack(roleEnv: Record<string, string>, cliEnv: Record<string, string>, out: string) {
  const t0 = Date.now();
  // Every role the batch needs; no gateway (the eval talks to NATS).
  const stack = await startStack({
    services: SERVICES,
    env: { LOG_LEVEL: "warn", ...roleEnv },
    onLog: () => {},
  });
  if (process.env.E2E_TIMING) console.log(`stack up in ${Date.now() - t0} ms`);
  stacks.push(stack);
  const result = await evalCli(cliEnv, [
    "--limit",
    "2",
    "--batch-size",
    "1",
    "--out",
    out,
    "--nats",
    stack.natsUrl,
    "--prefix",
    stack.prefix,
  ]);
  if (process.env.E2E_TIMING) console.log(`eval done at ${Date.now() - t0} ms`);
  await stack.stop();
  if (process.env.E2E_TIMING) console.log(`stack down at ${Date.now() - t0} ms`);
  stacks.splice(stacks.indexOf(stack), 1);
  return result;
}

interface Metrics {
  judge: { provider: string; model: string };
  runs: { metrics: { perQuery: { wallMs: number | null }; accuracy: { correct: number } } }[];
}

/** metrics.json without what a replay cannot reproduce: wall times and the judge's provider name. */
function comparable(metrics: Metrics): unknown {
  const copy = structuredClone(metrics);
  copy.judge.provider = "<provider>";
  for (const entry of copy.runs) entry.metrics.perQuery.wallMs = null;
  return copy;
}

describe("insitu eval record / replay", () => {
  it("a recorded eval replays offline, with no model, to identical metrics", async () => {
    const recordedOut = join(dir, "recorded");
    const recorded = await evalOnStack(
      { INSITU_SCRIPT: join(root, "test/e2e/scenarios/demo/demo.json"), INSITU_RECORD_DIR: cassettes },
      { INSITU_SCRIPT: SCRIPTED_JUDGE, INSITU_RECORD_DIR: cassettes },
      recordedOut,
    );
    expect(recorded.stderr).not.toContain("judge failed");
    expect(recorded.code).toBe(0);
    expect(recorded.stdout).toContain("accuracy 100.00% (2/2)");
    const files = await readdir(cassettes);
    for (const role of ["manager", "tool-developer", "executor", "integrator", "judge"])
      expect(
        files.some((name) => name.startsWith(`${role}-`)),
        `cassette for ${role}`,
      ).toBe(true);

    const replayedOut = join(dir, "replayed");
    const replayed = await evalOnStack(
      { INSITU_REPLAY_DIR: cassettes },
      { INSITU_REPLAY_DIR: cassettes },
      replayedOut,
    );
    expect(replayed.stderr).not.toContain("judge failed");
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain("judge replay/");
    const before = JSON.parse(await readFile(join(recordedOut, "metrics.json"), "utf8")) as Metrics;
    const after = JSON.parse(await readFile(join(replayedOut, "metrics.json"), "utf8")) as Metrics;
    expect(after.judge.provider).toBe("replay");
    expect(after.runs[0]?.metrics.accuracy.correct).toBe(2);
    expect(comparable(after)).toEqual(comparable(before));
    // The per-item answers are the same too.
    const answers = async (out: string) =>
      (await readFile(join(out, "run-1", "predictions.jsonl"), "utf8"))
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as { id: string; prediction: string }).prediction);
    expect(await answers(replayedOut)).toEqual(await answers(recordedOut));
  }, 200_000);

  it("a missing cassette fails loudly with a typed error, before any question is asked", async () => {
    const empty = join(dir, "no-cassettes");
    const result = await evalCli({ INSITU_REPLAY_DIR: empty }, [
      "--out",
      join(dir, "never"),
      "--nats",
      "nats://127.0.0.1:1",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("insitu eval: LLM_NOT_CONFIGURED: INSITU_REPLAY_DIR=");
    expect(result.stderr).toContain('holds no recording for role "judge"');
    expect(result.stdout).not.toContain("asking");
  });

  it("a judge request the cassette never saw fails the item with LLM_CASSETTE_MISS and the eval exits non-zero", async () => {
    // The recorded judge saw answers 5 and 8; this prediction says 7.
    const predictions = join(dir, "other.jsonl");
    await writeFile(
      predictions,
      `${JSON.stringify({ id: "own-1", status: "completed", prediction: { final_answer: "7" } })}\n`,
    );
    const result = await evalCli({ INSITU_REPLAY_DIR: cassettes }, [
      "--limit",
      "1",
      "--predictions",
      predictions,
      "--out",
      join(dir, "miss"),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /judge failed on own-1: LLM_CASSETTE_MISS: cassette has no recorded answer/,
    );
  });
});
