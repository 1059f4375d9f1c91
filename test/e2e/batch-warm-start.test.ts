import { spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@insitu/bus";
import { RegistryList, RegistrySnapshots, TaskEvents } from "@insitu/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";
import { type WarmQuestion, reverse, vowels, warmStartScript, words } from "./scenarios/warm-start/script.js";

/**
 * `insitu batch --warm-start`: real nats-server, every role its own process, the real Deno
 * sandbox, the FAKE scripted model (scenarios/warm-start/script.ts, whose manager reuses a tool
 * only when retrieval lists it), and the real `insitu` CLI as a child process. Which tools a run's
 * tasks built shows which library the run started from.
 */
const ROLES = ["manager", "tool-developer", "executor", "integrator", "evolver"] as const;
const root = findRepoRoot();
const RUNS = {
  zero: [words("a-w", "the quick brown fox"), reverse("a-r", "stressed")],
  current: [vowels("b-v", "banana")],
  snapshot: [words("c-w", "to be or not to be"), vowels("c-v", "education")],
  folder: [words("d-w", "hello there world"), vowels("d-v", "sequoia")],
  bad: [words("e-w", "one small step")],
};
let stack: Stack;
let bus: Bus;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "insitu-warm-e2e-"));
  const script = join(work, "script.json");
  await writeFile(script, JSON.stringify(warmStartScript(Object.values(RUNS).flat()), null, 2));
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "3000" },
    serviceEnv: {
      ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: script }])),
      // One build at a time (see batch.test.ts: parallel `deno check`s time out on 2 loaded cores).
      "tool-developer": { INSITU_SCRIPT: script, BUILD_CONCURRENCY: "1" },
    },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-warm-start" });
}, 120_000);

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function insitu(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    join(root, "bin/insitu"),
    [...args, "--nats", stack.natsUrl, "--prefix", stack.prefix],
    {
      cwd: work,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

interface Prediction {
  id: string;
  status: string;
  prediction: string;
  toolsUsed: string[];
  toolsCreated: string[];
}

async function batch(name: string, questions: WarmQuestion[], warmStart: string) {
  const file = join(work, `${name}.jsonl`);
  await writeFile(
    file,
    `${questions.map((item) => JSON.stringify({ id: item.id, question: item.question })).join("\n")}\n`,
  );
  const out = join(work, `out-${name}`);
  const run = await insitu([
    "batch",
    file,
    "--batch-size",
    String(questions.length),
    "--concurrency",
    "2",
    "--warm-start",
    warmStart,
    "--out",
    out,
  ]);
  const predictions =
    run.code === 0
      ? (await readFile(join(out, "predictions.jsonl"), "utf8"))
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as Prediction)
      : [];
  const byId = new Map(predictions.map((line) => [line.id, line]));
  return { ...run, byId };
}

const snapshots = () => bus.request(RegistrySnapshots, { limit: 5 });
const libraryNames = async () => (await bus.request(RegistryList, {})).tools.map((tool) => tool.name).sort();

let snapshotAfterZero = 0;
const exported = () => join(work, "exported-library");

describe("insitu batch --warm-start", () => {
  it("a zero start builds every tool; a run from `current` reuses them", async () => {
    const zero = await batch("zero", RUNS.zero, "zero");
    expect(zero.code, zero.stderr).toBe(0);
    expect(zero.byId.get("a-w")).toMatchObject({ status: "succeeded", toolsCreated: ["count_words"] });
    expect(zero.byId.get("a-r")).toMatchObject({ status: "succeeded", toolsCreated: ["reverse_text"] });
    expect(await libraryNames()).toEqual(["count_words", "reverse_text"]);
    snapshotAfterZero = (await snapshots()).current;

    const exportRun = await insitu(["library", "export", exported()]);
    expect(exportRun.code, exportRun.stderr).toBe(0);
    expect(exportRun.stdout).toMatch(`Exported 2 tool(s) of library snapshot ${snapshotAfterZero}`);

    const current = await batch("current", RUNS.current, "current");
    expect(current.code, current.stderr).toBe(0);
    expect(current.byId.get("b-v")).toMatchObject({ status: "succeeded", toolsCreated: ["count_vowels"] });
    expect(await libraryNames()).toEqual(["count_vowels", "count_words", "reverse_text"]);
  }, 300_000);

  it("a run from a snapshot id starts from exactly that library: later tools are gone, its tools are reused", async () => {
    const before = (await snapshots()).current;
    const run = await batch("snapshot", RUNS.snapshot, String(snapshotAfterZero));
    expect(run.code, run.stderr).toBe(0);
    // count_words was in the snapshot: reused, not built.
    expect(run.byId.get("c-w")).toMatchObject({
      status: "succeeded",
      prediction: "6",
      toolsUsed: ["count_words"],
      toolsCreated: [],
    });
    // count_vowels came after the snapshot: the run did not see it and built it again.
    expect(run.byId.get("c-v")).toMatchObject({ status: "succeeded", toolsCreated: ["count_vowels"] });
    // The first commit of the run is the rollback to that snapshot.
    const log = await bus.request(RegistrySnapshots, { before: before + 2, limit: 1 });
    expect(log.snapshots[0]).toMatchObject({
      number: before + 1,
      kind: "rollback",
      rollbackTo: snapshotAfterZero,
    });
  }, 300_000);

  it("a run from an exported folder imports exactly that library as one snapshot", async () => {
    const before = (await snapshots()).current;
    const run = await batch("folder", RUNS.folder, exported());
    expect(run.code, run.stderr).toBe(0);
    expect(run.byId.get("d-w")).toMatchObject({
      status: "succeeded",
      prediction: "3",
      toolsUsed: ["count_words"],
      toolsCreated: [],
    });
    expect(run.byId.get("d-v")).toMatchObject({ status: "succeeded", toolsCreated: ["count_vowels"] });
    // One snapshot took the library from {count_vowels, count_words, reverse_text} to the folder's.
    const log = await bus.request(RegistrySnapshots, { before: before + 2, limit: 1 });
    expect(log.snapshots[0]).toMatchObject({ number: before + 1, kind: "import", size: 2 });
  }, 300_000);

  it("a bad spec fails with a clear error before any task starts, and leaves the library as it was", async () => {
    const tampered = join(work, "tampered-library");
    await cp(exported(), tampered, { recursive: true });
    const module = join(tampered, "count_words", "module.ts");
    await writeFile(module, (await readFile(module, "utf8")).replace("length }", "length + 1 }"));

    // Task events are replayed from the stream: keep only those of the bad runs' one item.
    const started: string[] = [];
    let replayedPreviousRun = false;
    const subscription = bus.subscribe(TaskEvents, (event) => {
      if (event.taskId.endsWith("-e-w")) started.push(event.taskId);
      if (event.kind === "task-end" && event.taskId.endsWith("-d-v")) replayedPreviousRun = true;
    });
    const before = await snapshots();
    const library = await libraryNames();
    const cases: [string, RegExp][] = [
      [
        String(before.current + 50),
        new RegExp(`no snapshot ${before.current + 50} \\(current is ${before.current}\\)`),
      ],
      [
        join(work, "no-such-folder"),
        /no-such-folder.*is not a snapshot number nor an exported library folder/,
      ],
      [tampered, /count_words.*no longer hash.*recorded/],
    ];
    for (const [spec, message] of cases) {
      const run = await batch(`bad-${cases.findIndex(([other]) => other === spec)}`, RUNS.bad, spec);
      expect(run.code, `${spec}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    // The replay has passed the folder run's last task's end, so any event of these runs (later
    // in the stream) would have come by now too.
    for (let waited = 0; !replayedPreviousRun && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    subscription.unsubscribe();
    expect(replayedPreviousRun).toBe(true);
    expect(started).toEqual([]);
    expect((await snapshots()).current).toBe(before.current);
    expect(await libraryNames()).toEqual(library);
  }, 120_000);
});
