import { fileURLToPath } from "node:url";
import { type Bus, connectBus } from "@insitu/bus";
import { RegistryHistory, RegistrySeries, RegistryStats } from "@insitu/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";
import { eventsOf, submitTask } from "./task-client.js";

/**
 * Convergence end to end (issue 10): real nats-server, every role its own process, the tool's
 * code run in the real Deno sandbox; the model is FAKE (scripted: scenarios/convergence.json).
 * The script's manager, asked the second question, requests a duplicate tool under another name:
 * only the manager's library check can turn that into reuse. The counts are hand-counted below.
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/convergence.json", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;
const FIRST = "Write 14 in Roman numerals.";
const SECOND = "How would ancient Latin stonemasons carve the year 2024?";
const THIRD = "What is zero in Roman numerals?";

let stack: Stack;
let bus: Bus;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "2000" },
    serviceEnv: Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-convergence" });
});

afterAll(async () => {
  // The run's figures, for the before/after comparisons in ADRs 0056 and 0106 and the closing note.
  console.log(`CONVERGENCE-FIGURES ${JSON.stringify(figures)}`);
  await bus?.drain();
  await stack?.stop();
});

const words = (text: string) => new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? []);

describe("convergence", () => {
  it("(a) builds the tool once", async () => {
    const task = await submitTask(bus, FIRST, { label: "roman-a" });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("XIV");
    expect(record.toolsCreated).toEqual(["convert_roman_numeral"]);
    expect(JSON.parse(eventsOf(task.events, "tool-call-end")[0]?.output ?? "{}")).toEqual({ roman: "XIV" });
  });

  it("(b) a phrasing that shares no word with the first reuses its tool instead of building a duplicate", async () => {
    expect([...words(FIRST)].filter((word) => words(SECOND).has(word))).toEqual([]);
    const task = await submitTask(bus, SECOND, { label: "roman-b" });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("MMXXIV");
    expect(eventsOf(task.events, "tool-build-start")).toHaveLength(0);
    expect(record.toolsCreated).toEqual([]);
    expect(record.toolsUsed).toEqual(["convert_roman_numeral"]);
    const plan = eventsOf(task.events, "plan-end")[0];
    expect(plan?.toolsChosen).toEqual(["convert_roman_numeral"]);
    expect(plan?.toolsRequested).toEqual([]);
    // The sandbox computed it with the first task's tool.
    expect(JSON.parse(eventsOf(task.events, "tool-call-end")[0]?.output ?? "{}")).toEqual({
      roman: "MMXXIV",
    });
    const metrics = await (await fetch(`${stack.url("manager")}/metrics`)).text();
    expect(metrics).toMatch(/^insitu_builds_avoided_total\{[^}]*\} 1$/m);
    figures.buildsAvoided = 1;
  });

  it("(c) the tool's answer that zero has no numeral is a successful call: no repair, no new version", async () => {
    const task = await submitTask(bus, THIRD, { label: "roman-c" });
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    const calls = eventsOf(task.events, "tool-call-end");
    expect(calls.map((call) => call.outcome)).toEqual(["rejected-input"]);
    expect(calls[0]?.output).toContain("0 cannot be written in Roman numerals");
    expect(eventsOf(task.events, "tool-repair-end")).toHaveLength(0);
    expect(record.toolsCreated).toEqual([]);
    const history = await bus.request(RegistryHistory, { name: "convert_roman_numeral" });
    expect(history.versions).toHaveLength(1);
  });

  it("the created count and EGL match the hand count", async () => {
    // Hand count: one version built and admitted (a); calls: a 1, b 1, c 1.
    const { global } = await bus.request(RegistryStats, {});
    figures.toolsCreated = global.toolsCreated;
    figures.toolsAdmitted = global.toolsAdmitted;
    figures.toolCalls = global.toolCalls;
    figures.egl = global.egl;
    figures.librarySize = global.librarySize;
    figures.versionsOverCalls = global.toolCalls === 0 ? null : global.toolsCreated / global.toolCalls;
    expect(global).toMatchObject({ toolsCreated: 1, toolsAdmitted: 1, toolCalls: 3, librarySize: 1 });
    expect(global.egl).toBeCloseTo(1 / 3, 10);
    expect(global.successRate).toBe(1);
    expect(global.callsByOutcome).toEqual({ success: 2, "rejected-input": 1 });
    const series = await bus.request(RegistrySeries, { batchSize: 3 });
    expect(series.points.map((point) => point.egl)).toEqual([1, 1 / 2, 1 / 3]);
    expect(series.points.map((point) => point.librarySize)).toEqual([1, 1, 1]);
    expect(series.batches).toMatchObject([{ batch: 1, toolCalls: 3, toolsAdmitted: 1, batchEgl: 1 / 3 }]);
    const metrics = await (await fetch(`${stack.url("registry")}/metrics`)).text();
    expect(metrics).toMatch(/^insitu_egl_ratio\{[^}]*\} 0\.333/m);
  });
});
