import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@insitu/bus";
import { RegistryGet, RegistryList, TaskEvents } from "@insitu/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";
import { scenarioQuestions, scenarioScript } from "./scenarios/batch/script.js";

/**
 * Batch runs end to end: real nats-server, every role its own process, the real Deno sandbox, the
 * FAKE scripted model (scenarios/batch/script.ts), and the real `insitu batch` command as a child
 * process — killed half-way and run again.
 */
const ROLES = ["manager", "tool-developer", "executor", "integrator", "evolver"] as const;
const root = findRepoRoot();
let stack: Stack;
let bus: Bus;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "insitu-batch-e2e-"));
  const script = join(work, "script.json");
  await writeFile(script, JSON.stringify(scenarioScript(), null, 2));
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "3000" },
    serviceEnv: {
      ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: script }])),
      // One build at a time: on a loaded 2-core machine parallel `deno check`s hit the sandbox's
      // fixed 30 s type-check limit (CHECK_TIMEOUT) and the batch's first tasks fail for that.
      "tool-developer": { INSITU_SCRIPT: script, BUILD_CONCURRENCY: "1" },
    },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-batch" });
}, 120_000);

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string;
  exit: Promise<number | null>;
}

function insituBatch(args: string[]): Run {
  const child = spawn(
    join(root, "bin/insitu"),
    ["batch", ...args, "--nats", stack.natsUrl, "--prefix", stack.prefix],
    { cwd: work, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const run: Run = {
    child,
    stdout: [],
    stderr: "",
    exit: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  let buffer = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    run.stdout.push(...lines);
    if (process.env.E2E_LOGS) for (const line of lines) process.stdout.write(`[batch] ${line}\n`);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  return run;
}

describe("insitu batch", () => {
  it("refuses a bad file naming the line, before anything starts", async () => {
    const file = join(work, "bad.jsonl");
    await writeFile(file, '{"id": 1, "question": "a?"}\n{"id": 1, "question": "b?"}\n');
    const run = insituBatch([file]);
    expect(await run.exit).toBe(2);
    expect(run.stderr).toMatch(/BATCH_INPUT_INVALID: line 2: duplicate id "1" \(first on line 1\)/);
    const empty = join(work, "empty-question.jsonl");
    await writeFile(empty, '{"id": "a", "question": "ok?"}\n{"id": "b", "question": "  "}\n');
    const second = insituBatch([empty]);
    expect(await second.exit).toBe(2);
    expect(second.stderr).toMatch(/line 2: the "question" is missing or empty/);
    // Nothing ran: no task has started on the bus.
    const started: string[] = [];
    const subscription = bus.subscribe(TaskEvents, (event) => {
      started.push(event.taskId);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    subscription.unsubscribe();
    expect(started).toEqual([]);
  }, 60_000);

  it("runs 3 batches, merges a near-duplicate at a barrier, plateaus the library, and resumes after a kill exactly once", async () => {
    const questions = scenarioQuestions();
    const file = join(work, "questions.jsonl");
    await writeFile(
      file,
      `${questions.map((item) => JSON.stringify({ id: item.id, question: item.question, answer: item.answer, family: item.family })).join("\n")}\n`,
    );
    const out = join(work, "out");
    const args = [file, "--batch-size", "8", "--concurrency", "4", "--out", out];

    // First run: killed (SIGKILL) half-way through the second batch.
    const first = insituBatch(args);
    for (;;) {
      const last = first.stdout.at(-1) ?? "";
      const done = Number(/ (\d+)\/24 /.exec(last)?.[1] ?? 0);
      if (done >= 12) break;
      const code = await Promise.race([
        first.exit,
        new Promise((resolve) => setTimeout(() => resolve("running"), 100)),
      ]);
      if (code !== "running") throw new Error(`insitu batch ended early (${String(code)}): ${first.stderr}`);
    }
    first.child.kill("SIGKILL");
    await first.exit;

    // Second run of the same command: resumes, finishes, writes the outputs.
    const second = insituBatch(args);
    const code = await second.exit;
    const predictions = (await readFile(join(out, "predictions.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const failed = predictions.filter((line) => line.status !== "succeeded");
    expect(failed, `exit ${String(code)}; ${second.stderr}`).toEqual([]);
    expect(code).toBe(0);
    expect(predictions).toHaveLength(24);
    for (const item of questions) {
      const line = predictions.find((entry) => entry.id === item.id);
      expect(line, item.id).toMatchObject({
        status: "succeeded",
        prediction: item.answer,
        family: item.family,
      });
    }

    // Every task ran exactly once: one task-start per task id over both runs.
    const starts = new Map<string, number>();
    const subscription = bus.subscribe(TaskEvents, (event) => {
      if (event.kind === "task-start") starts.set(event.taskId, (starts.get(event.taskId) ?? 0) + 1);
    });
    const taskIds = predictions.map((line) => String(line.taskId));
    for (let waited = 0; taskIds.some((id) => !starts.has(id)) && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    subscription.unsubscribe();
    expect(taskIds.map((id) => starts.get(id))).toEqual(taskIds.map(() => 1));

    const batches = (await readFile(join(out, "batches.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, number>);
    process.stdout.write(`batch report:\n${batches.map((row) => JSON.stringify(row)).join("\n")}\n`);
    expect(batches.map((row) => row.batch)).toEqual([1, 2, 3]);
    // The first barrier merged tally_vowels into count_vowels (tests and replays passed).
    expect(batches[0]?.merged).toBe(1);
    expect(batches.map((row) => row.librarySize)).toEqual([3, 3, 3]);
    expect(batches.map((row) => row.admitted)).toEqual([3, 0, 0]);
    // EGL falls batch over batch.
    const cumulative = batches.map((row) => row.eglCumulative ?? 0);
    expect(cumulative[0]).toBeGreaterThan(cumulative[1] ?? 1);
    expect(cumulative[1]).toBeGreaterThan(cumulative[2] ?? 1);
    const merged = await bus.request(RegistryGet, { by: "name", name: "tally_vowels" });
    expect(merged).toMatchObject({ name: "count_vowels", origin: "merged" });
    expect((await bus.request(RegistryList, {})).tools.map((tool) => tool.name)).toEqual([
      "count_vowels",
      "count_words",
      "reverse_text",
    ]);
    const summary = await readFile(join(out, "summary.md"), "utf8");
    expect(summary).toMatch(/succeeded 24/);
  }, 240_000);
});
