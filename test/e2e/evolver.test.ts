import { fileURLToPath } from "node:url";
import { type Bus, connectBus } from "@insitu/bus";
import {
  type EvolverReport,
  EVOLVER_BUCKET,
  RegistryFinishTask,
  RegistryGet,
  RegistryList,
  RegistryRecordUsage,
  RegistryRegister,
  RegistrySnapshots,
  TaskEvents,
  evolverReportKey,
} from "@insitu/contracts";
import { requestBarrier } from "@insitu/evolver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executorUsage, withSandboxReport } from "../harness/evidence.js";
import { type Stack, startStack } from "../harness/stack.js";

/**
 * The evolver end to end: real nats-server, registry, Deno sandbox and evolver processes; the
 * evolver's model is the FAKE scripted one (scenarios/evolver/evolver.json), the merged code runs
 * for real. The library is seeded through the registry's public endpoints the way the executor
 * fills it (register, record the call, publish the call's events, finish the task) with tools
 * whose code really ran: each recorded output is what the sandbox-run member computes.
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/evolver/evolver.json", import.meta.url));

let stack: Stack;
let bus: Bus;

beforeAll(async () => {
  stack = await startStack({
    services: ["registry", "sandbox", "evolver"],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "3000" },
    serviceEnv: { evolver: { INSITU_SCRIPT: SCRIPT } },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-evolver" });
}, 90_000);

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
});

interface Seed {
  task: string;
  name: string;
  description: string;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
  body: string;
  tests: { name: string; input: unknown; expect: Record<string, unknown> }[];
  calls: { input: unknown; output: unknown }[];
}

const text = (field: string) => ({
  type: "object",
  properties: { [field]: { type: "string" } },
  required: [field],
  additionalProperties: false,
});
const numbers = {
  type: "object",
  properties: { numbers: { type: "array", items: { type: "number" } } },
  required: ["numbers"],
  additionalProperties: false,
};
const countOut = { type: "object", properties: { count: { type: "integer" } }, required: ["count"] };
const totalOut = { type: "object", properties: { total: { type: "number" } }, required: ["total"] };
const reversedOut = { type: "object", properties: { reversed: { type: "string" } }, required: ["reversed"] };

/** Registers a tool in its task's pool, records its calls with their events, finishes the task. */
async function seed(tool: Seed): Promise<{ hash: string; finish: Awaited<ReturnType<typeof finish>> }> {
  const manifest = {
    name: tool.name,
    description: tool.description,
    inputSchema: tool.input,
    outputSchema: tool.output,
    permissions: { network: [], secrets: [] },
  };
  const code = `export const manifest = ${JSON.stringify(manifest, null, 2)};\n\n${tool.body}\n`;
  const registered = await bus.request(
    RegistryRegister,
    await withSandboxReport(bus, {
      taskId: tool.task,
      manifest,
      code,
      tests: tool.tests as never,
      evidence: [
        { kind: "test-run", summary: "seeded", passed: 2, failed: 0, time: new Date().toISOString() },
      ],
    }),
  );
  for (const [index, call] of tool.calls.entries()) {
    const callId = `r1.e1.s1.${index}`;
    const time = new Date().toISOString();
    await bus.publish(
      TaskEvents,
      {
        taskId: tool.task,
        time,
        kind: "tool-call-start",
        round: 1,
        tool: tool.name,
        callId,
        input: JSON.stringify(call.input),
      },
      { token: tool.task, taskId: tool.task },
    );
    await bus.request(
      RegistryRecordUsage,
      executorUsage(stack, [
        {
          callId: `${tool.task}.${callId}`,
          taskId: tool.task,
          hash: registered.hash,
          outcome: "success",
          latencyMs: 5,
        },
      ]),
    );
    await bus.publish(
      TaskEvents,
      {
        taskId: tool.task,
        time,
        kind: "tool-call-end",
        round: 1,
        tool: tool.name,
        callId,
        outcome: "success",
        durationMs: 5,
        output: JSON.stringify(call.output),
      },
      { token: tool.task, taskId: tool.task },
    );
  }
  await bus.publish(
    TaskEvents,
    {
      taskId: tool.task,
      time: new Date().toISOString(),
      kind: "task-end",
      status: "succeeded",
      toolsUsed: [tool.name],
      toolsCreated: [tool.name],
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: tool.calls.length },
    },
    { token: tool.task, taskId: tool.task },
  );
  return { hash: registered.hash, finish: await finish(tool.task) };
}

const finish = (taskId: string) => bus.request(RegistryFinishTask, { taskId });

const countWords: Seed = {
  task: "seed-count-words",
  name: "count_words",
  description: "Counts the words in a text and returns the count.",
  input: text("text"),
  output: countOut,
  body: `export default async function run(input: { text: string }): Promise<{ count: number }> {
  return { count: input.text.split(" ").filter((word) => word !== "").length };
}`,
  tests: [
    { name: "two words", input: { text: "hello world" }, expect: { equals: { count: 2 } } },
    { name: "empty", input: { text: "" }, expect: { equals: { count: 0 } } },
  ],
  calls: [{ input: { text: "to be or not to be" }, output: { count: 6 } }],
};
const countWordsRival: Seed = {
  ...countWords,
  task: "seed-count-words-rival",
  body: `export default async function run(input: { text: string }): Promise<{ count: number }> {
  // a rival written by another task under the same name
  return { count: input.text.match(/\\S+/g)?.length ?? 0 };
}`,
  calls: [{ input: { text: "one  two\tthree" }, output: { count: 3 } }],
};
const tallyWords: Seed = {
  task: "seed-tally-words",
  name: "tally_words",
  description: "Counts the words of a sentence and returns the count.",
  input: text("sentence"),
  output: countOut,
  body: `export default async function run(input: { sentence: string }): Promise<{ count: number }> {
  return { count: input.sentence.trim().split(/\\s+/).filter(Boolean).length };
}`,
  tests: [
    { name: "three", input: { sentence: "a b c" }, expect: { equals: { count: 3 } } },
    { name: "padded", input: { sentence: "  a  " }, expect: { equals: { count: 1 } } },
  ],
  calls: [{ input: { sentence: "the cat sat on the mat" }, output: { count: 6 } }],
};
const sumNumbers: Seed = {
  task: "seed-sum-numbers",
  name: "sum_numbers",
  description: "Sums a list of numbers and returns the total.",
  input: numbers,
  output: totalOut,
  body: `export default async function run(input: { numbers: number[] }): Promise<{ total: number }> {
  return { total: input.numbers.reduce((sum, value) => sum + value, 0) };
}`,
  tests: [
    { name: "adds", input: { numbers: [2, 3] }, expect: { equals: { total: 5 } } },
    { name: "empty", input: { numbers: [] }, expect: { equals: { total: 0 } } },
  ],
  calls: [{ input: { numbers: [1, 2, 3, 4] }, output: { total: 10 } }],
};
const sumSquares: Seed = {
  task: "seed-sum-squares",
  name: "sum_squares",
  description: "Sums the squares of a list of numbers and returns the total.",
  input: numbers,
  output: totalOut,
  body: `export default async function run(input: { numbers: number[] }): Promise<{ total: number }> {
  return { total: input.numbers.reduce((sum, value) => sum + value * value, 0) };
}`,
  tests: [
    { name: "squares", input: { numbers: [1, 2] }, expect: { equals: { total: 5 } } },
    { name: "empty", input: { numbers: [] }, expect: { equals: { total: 0 } } },
  ],
  calls: [{ input: { numbers: [3, 4] }, output: { total: 25 } }],
};
const reverseText: Seed = {
  task: "seed-reverse-text",
  name: "reverse_text",
  description: "Reverses the characters of a text.",
  input: text("text"),
  output: reversedOut,
  body: `export default async function run(input: { text: string }): Promise<{ reversed: string }> {
  return { reversed: input.text.split("").reverse().join("") };
}`,
  tests: [
    { name: "abc", input: { text: "abc" }, expect: { equals: { reversed: "cba" } } },
    { name: "empty", input: { text: "" }, expect: { equals: { reversed: "" } } },
  ],
  calls: [{ input: { text: "stressed" }, output: { reversed: "desserts" } }],
};
const reverseString: Seed = {
  task: "seed-reverse-string",
  name: "reverse_string",
  description: "Reverses the characters of a string value.",
  input: text("value"),
  output: reversedOut,
  body: `export default async function run(input: { value: string }): Promise<{ reversed: string }> {
  let out = "";
  for (const char of input.value) out = char + out;
  return { reversed: out };
}`,
  tests: [
    { name: "xy", input: { value: "xy" }, expect: { equals: { reversed: "yx" } } },
    { name: "one", input: { value: "a" }, expect: { equals: { reversed: "a" } } },
  ],
  calls: [{ input: { value: "drawer" }, output: { reversed: "reward" } }],
};

describe("the evolver", () => {
  let first: EvolverReport;
  const hashes = new Map<string, string>();

  it("merges near-duplicates under test, rejects a wrong merge, and commits one snapshot", async () => {
    for (const tool of [countWords, tallyWords, sumNumbers, sumSquares]) {
      const seeded = await seed(tool);
      expect(seeded.finish.absorbed.map((item) => item.name)).toEqual([tool.name]);
      hashes.set(tool.name, seeded.hash);
    }
    // A rival under a name the library holds is offered, as finish-task leaves it for the evolver.
    const rival = await seed(countWordsRival);
    expect(rival.finish.offered.map((item) => item.name)).toEqual(["count_words"]);
    const before = await bus.request(RegistrySnapshots, { limit: 1 });

    first = await requestBarrier(bus, "e2e.b1", { timeoutMs: 60_000 });
    if (process.env.E2E_LOGS) process.stdout.write(`${JSON.stringify(first, null, 2)}\n`);

    // ONE new snapshot for the whole barrier.
    expect(first.baseSnapshot).toBe(before.current);
    expect(first.snapshot).toBe(before.current + 1);
    const after = await bus.request(RegistrySnapshots, { limit: 5 });
    expect(after.current).toBe(before.current + 1);

    // The word counters became one tool that passed every member's tests and replays.
    expect(first.merged).toHaveLength(1);
    expect(first.merged[0]).toMatchObject({
      name: "count_words",
      members: ["count_words", "count_words", "tally_words"],
      testsPassed: 6,
      replaysPassed: 3,
    });
    const merged = await bus.request(RegistryGet, { by: "name", name: "count_words" });
    expect(merged.origin).toBe("merged");
    expect(merged.hash).toBe(first.merged[0]?.hash);
    expect(new Set(merged.parents)).toEqual(
      new Set([hashes.get("count_words"), hashes.get("tally_words"), rival.hash]),
    );
    // The member's name resolves to the merged tool; the member records where it went.
    expect((await bus.request(RegistryGet, { by: "name", name: "tally_words" })).hash).toBe(merged.hash);
    const member = await bus.request(RegistryGet, { by: "hash", hash: hashes.get("tally_words") ?? "" });
    expect(member).toMatchObject({ status: "deprecated", mergedInto: merged.hash });
    expect((await bus.request(RegistryGet, { by: "hash", hash: rival.hash })).mergedInto).toBe(merged.hash);

    // The wrong merge failed sum_squares' tests and replay in the sandbox: rejected, both stay.
    const wrong = first.rejected.find((entry) => entry.members.includes("sum_squares"));
    expect(wrong?.stage).toBe("review");
    expect(wrong?.reason).toMatch(/sum_squares: replay/);
    expect((await bus.request(RegistryGet, { by: "name", name: "sum_squares" })).hash).toBe(
      hashes.get("sum_squares"),
    );
    expect((await bus.request(RegistryGet, { by: "name", name: "sum_numbers" })).hash).toBe(
      hashes.get("sum_numbers"),
    );
    const library = await bus.request(RegistryList, {});
    expect(library.tools.map((tool) => tool.name)).toEqual(["count_words", "sum_numbers", "sum_squares"]);
    expect(first.librarySize).toBe(3);
    expect(first.groupsFound).toBe(2);
    // Nothing offered is left waiting.
    expect((await bus.request(RegistryList, { scope: "status", status: "offered" })).total).toBe(0);
  }, 90_000);

  it("asking for the same barrier again returns its report and commits nothing", async () => {
    const before = await bus.request(RegistrySnapshots, { limit: 1 });
    const again = await requestBarrier(bus, "e2e.b1", { timeoutMs: 10_000 });
    expect(again).toEqual(first);
    expect((await bus.request(RegistrySnapshots, { limit: 1 })).current).toBe(before.current);
  });

  it("an evolver SIGKILLed during absorb leaves the old or the new snapshot, and the next run finishes it", async () => {
    for (const tool of [reverseText, reverseString]) {
      const seeded = await seed(tool);
      hashes.set(tool.name, seeded.hash);
    }
    const base = (await bus.request(RegistrySnapshots, { limit: 1 })).current;
    const state = await bus.kv(EVOLVER_BUCKET);
    // Kill it once the merged version exists (its review passed; the commit is imminent or done).
    const pending = requestBarrier(bus, "e2e.b2", { timeoutMs: 60_000 });
    let settled: EvolverReport | undefined;
    void pending.then((report) => {
      settled = report;
    });
    for (;;) {
      if (settled) throw new Error(`the barrier ended before the kill: ${JSON.stringify(settled)}`);
      const pool = await bus.request(RegistryList, { scope: "pool", taskId: "evolve-e2e_b2" });
      if (pool.total > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await stack.kill("evolver", "SIGKILL");
    const killedAt = await bus.request(RegistrySnapshots, { limit: 1 });
    // Old or new, never a mix: either nothing changed, or the one barrier snapshot holds it all.
    if (killedAt.current === base) {
      expect((await bus.request(RegistryGet, { by: "name", name: "reverse_string" })).hash).toBe(
        hashes.get("reverse_string"),
      );
      // Killed before its commit: nothing changed and no report claims otherwise.
      expect(await state.get(evolverReportKey("e2e.b2"))).toBeUndefined();
    } else {
      // Killed after its commit (on an idle machine the commit can land between the poll above and
      // the kill): the one barrier snapshot holds it all; the report may or may not be written yet.
      expect(killedAt.current).toBe(base + 1);
      expect(killedAt.snapshots[0]?.changes.map((change) => change.op)).toEqual(["merge", "alias"]);
    }

    await stack.restart("evolver");
    const report = await pending;
    expect(report.snapshot).toBe(base + 1);
    const log = await bus.request(RegistrySnapshots, { limit: 10 });
    expect(log.current).toBe(base + 1);
    expect(log.snapshots.filter((info) => info.reason.includes("[barrier e2e.b2]"))).toHaveLength(1);
    const merged = await bus.request(RegistryGet, { by: "name", name: "reverse_string" });
    expect(merged.name).toBe("reverse_text");
    expect(merged.origin).toBe("merged");
    expect((await bus.request(RegistryList, {})).tools.map((tool) => tool.name)).toEqual([
      "count_words",
      "reverse_text",
      "sum_numbers",
      "sum_squares",
    ]);
  }, 90_000);
});
