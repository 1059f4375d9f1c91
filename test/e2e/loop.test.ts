import { fileURLToPath } from "node:url";
import { type Bus, connectBus } from "@insitu/bus";
import { RegistryGet, RegistryHistory, RegistryStats } from "@insitu/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";
import { distinctEventsOf, eventsOf, submitTask } from "./task-client.js";

/**
 * The agent loop end to end: real nats-server, every role its own process, tools written by the
 * (FAKE, scripted — see scenarios/loop.json) model and run for real in the Deno sandbox. The
 * assertions check what the sandbox computed and what the registry recorded, not only the
 * scripted answers.
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/loop.json", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;

let stack: Stack;
let bus: Bus;

beforeAll(async () => {
  const logs: string[] = [];
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "2000" },
    serviceEnv: Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
    onLog: (service, line) => {
      logs.push(`${service} ${line}`);
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-loop" });
});

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
});

describe("the agent loop", () => {
  it("(a) a first question creates a tool that runs in the sandbox and gives the right answer", async () => {
    const task = await submitTask(bus, "How many vowels are in the word 'encyclopedia'?", { label: "a" });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("5");
    expect(record.toolsCreated).toEqual(["count_vowels"]);
    expect(record.toolsUsed).toEqual(["count_vowels"]);
    const built = eventsOf(task.events, "tool-build-end");
    expect(built).toMatchObject([{ name: "count_vowels", ok: true }]);
    expect(eventsOf(task.events, "tool-build-attempt")).toMatchObject([
      { result: "passed", testsPassed: 4, testsTotal: 4 },
    ]);
    // The value came from the model-written code running in Deno, not from the script.
    const calls = eventsOf(task.events, "tool-call-end");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.outcome).toBe("success");
    expect(JSON.parse(calls[0]?.output ?? "{}")).toEqual({ vowels: 5 });
    // Finishing the task offered the tool to the library, where the next task can find it.
    const inLibrary = await bus.request(RegistryGet, { by: "name", name: "count_vowels" });
    expect(inLibrary.status).toBe("library");
    expect(inLibrary.hash).toBe(built[0]?.version);
    expect(record.usage.toolCalls).toBe(1);
    expect(record.usage.inputTokens).toBeGreaterThan(0);
  });

  it("(b) a different question needing the same capability reuses the tool and creates none", async () => {
    const before = await bus.request(RegistryStats, {});
    const task = await submitTask(bus, "Count the vowels in 'onomatopoeia'.", { label: "b" });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("8");
    expect(record.toolsCreated).toEqual([]);
    expect(record.toolsUsed).toEqual(["count_vowels"]);
    expect(eventsOf(task.events, "tool-build-start")).toHaveLength(0);
    const plan = eventsOf(task.events, "plan-end")[0];
    expect(plan?.toolsChosen).toEqual(["count_vowels"]);
    expect(plan?.toolsRequested).toEqual([]);
    expect(JSON.parse(eventsOf(task.events, "tool-call-end")[0]?.output ?? "{}")).toEqual({ vowels: 8 });
    const after = await bus.request(RegistryStats, {});
    expect(after.global.toolsCreated).toBe(before.global.toolsCreated);
    expect(after.global.toolCalls).toBe(before.global.toolCalls + 1);
    expect(after.global.reuseRate).toBeGreaterThan(0);
  });

  it("(c) a tool that fails on some input is repaired and the repaired version is used", async () => {
    const task = await submitTask(bus, "What is the sum of the list 3,4,,5?", { label: "c" });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("12");
    const calls = eventsOf(task.events, "tool-call-end");
    expect(calls.map((call) => call.outcome)).toEqual(["execution-failure", "success"]);
    expect(calls[0]?.output).toMatch(/CRASH: .*empty item in list/);
    expect(JSON.parse(calls[1]?.output ?? "{}")).toEqual({ sum: 12, count: 3 });
    const repair = eventsOf(task.events, "tool-repair-end");
    expect(repair).toMatchObject([{ tool: "sum_number_list", ok: true }]);
    const built = eventsOf(task.events, "tool-build-end")[0];
    const history = await bus.request(RegistryHistory, { name: "sum_number_list" });
    expect(history.versions).toHaveLength(2);
    const repaired = history.versions.find((version) => version.hash === repair[0]?.version);
    expect(repaired?.parents).toEqual([built?.version]);
    // Only the version that succeeded leaves the pool for the library.
    expect(history.current).toBe(repair[0]?.version);
  });

  it("(d) a model that keeps asking for an impossible tool ends within its budgets with a clear status", async () => {
    const started = Date.now();
    const task = await submitTask(bus, "What will the lottery numbers be on 2030-01-01?", {
      label: "d",
      budgets: { rounds: 2, wallMs: 120_000 },
    });
    const record = await task.done;
    expect(record.status).toBe("budget-exceeded");
    expect(record.error?.code).toBe("ROUND_BUDGET_EXCEEDED");
    expect(record.error?.message).toMatch(
      /no conclusive answer after 2 rounds.*predict_lottery_numbers could not be built/s,
    );
    expect(record.answer).toBeUndefined();
    expect(record.rounds.map((round) => round.buildFailures.map((failure) => failure.name))).toEqual([
      ["predict_lottery_numbers"],
      ["predict_lottery_numbers"],
    ]);
    expect(
      eventsOf(task.events, "tool-build-attempt").every((attempt) => attempt.result === "check-failed"),
    ).toBe(true);
    expect(eventsOf(task.events, "tool-build-attempt")).toHaveLength(6);
    expect(Date.now() - started).toBeLessThan(120_000);
    const lookup = bus.request(RegistryGet, { by: "name", name: "predict_lottery_numbers" });
    await expect(lookup).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("(e) a role service killed (SIGKILL) mid-step delays the task, which completes once it is back", async () => {
    const task = await submitTask(bus, "Reverse the text 'Queueing'.", { label: "e" });
    await task.next("tool-build-start");
    await stack.kill("tool-developer", "SIGKILL");
    await stack.restart("tool-developer");
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("gnieueuQ");
    // The build was redelivered to the restarted developer and done once to completion.
    expect(eventsOf(task.events, "tool-build-start").length).toBeGreaterThanOrEqual(2);
    expect(distinctEventsOf(task.events, "tool-build-end", builtVersion)).toMatchObject([
      { name: "reverse_text", ok: true },
    ]);
    expect(JSON.parse(eventsOf(task.events, "tool-call-end")[0]?.output ?? "{}")).toEqual({
      reversed: "gnieueuQ",
    });
  });

  it("(f) the manager killed between steps and the executor killed mid-call: the task still completes", async () => {
    const task = await submitTask(bus, "Say marco, get the echo back after a pause.", { label: "f" });
    await task.next("plan-end");
    await stack.kill("manager", "SIGKILL");
    await stack.restart("manager");
    await task.next("tool-call-start");
    await stack.kill("executor", "SIGKILL");
    await stack.restart("executor");
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("polo");
    // The call the kill interrupted never ended; the redelivered round made it again, to completion.
    expect(eventsOf(task.events, "tool-call-start").length).toBeGreaterThanOrEqual(2);
    const ends = distinctEventsOf(task.events, "tool-call-end", (event) => event.callId);
    expect(ends).toHaveLength(1);
    expect(JSON.parse(ends[0]?.output ?? "{}")).toEqual({ text: "polo", waited_ms: 2500 });
    // Events are at-least-once (a restarted manager re-performs its committed outbox), but the
    // plan itself was applied once: one round, one build.
    expect(new Set(eventsOf(task.events, "plan-end").map((event) => event.round))).toEqual(new Set([1]));
    expect(record.rounds).toHaveLength(1);
    expect(distinctEventsOf(task.events, "tool-build-end", builtVersion)).toHaveLength(1);
  });
});

/** A build's identity across re-announcements: the tool, its version and whether it was admitted. */
function builtVersion(event: { name: string; version?: string | undefined; ok: boolean }): string {
  return `${event.name}@${event.version ?? "-"}:${event.ok}`;
}
