import type { ToolBuildResult } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { createScriptedModel } from "@insitu/llm/testing";
import type { StepPorts } from "@insitu/roles";
import { memoryStepPorts } from "@insitu/roles/testing";
import { describe, expect, it } from "vitest";
import { type ToolDeveloperDeps, createToolDeveloper } from "./service.js";
import { FAKE_REPORT } from "./testing.js";

const request = {
  name: "count_words",
  description: "Counts the words in a text.",
  input_schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  output_schema: { type: "object", properties: { count: { type: "integer" } } },
};
const work = { taskId: "t1", round: 1, step: "r1.build.count_words", request, question: "How many words?" };
const draft = {
  json: {
    code: "export default async function run(input: { text: string }) { return { count: input.text.split(' ').length }; }",
    tests: [
      { name: "two", input: { text: "a b" }, expect: { subset: { count: 2 } } },
      { name: "bad", input: { text: 1 }, expect: { outcome: "INVALID_INPUT" } },
    ],
  },
};

/** The bound version a repair starts from. */
const repairSource = {
  manifest: {
    name: "count_words",
    description: request.description,
    inputSchema: request.input_schema,
    outputSchema: request.output_schema,
    permissions: { network: [], secrets: [] },
  },
  code: "export default async function run() { throw new Error('boom'); }",
  tests: [],
};

/** FAKE ports (sandbox, registry, step ports) for unit tests; `log` records the order of effects. */
function fakes(overrides: Partial<ToolDeveloperDeps> & { emit?: StepPorts["emit"] } = {}) {
  const { emit, ...own } = overrides;
  const memory = memoryStepPorts({ ...(emit ? { emit } : {}), ...(own.now ? { now: own.now } : {}) });
  const { log, events, stored: steps } = memory;
  const deps: ToolDeveloperDeps = {
    model: createScriptedModel([draft]),
    check: async () => ({ ok: true, diagnostics: [] }),
    test: async () => ({
      report: FAKE_REPORT,
      passed: true,
      results: [{ name: "two", passed: true, failures: [], status: "ok" }],
    }),
    exec: async () => ({ status: "ok", output: {}, durationMs: 1 }),
    registry: {
      register: async ({ parents }) => {
        log.push(`register parents=${parents.length}`);
        return { version: "sha256:abc" };
      },
      get: async () => {
        throw new Error("not used");
      },
      review: async () => undefined,
    },
    costOf: (usage) => usage.inputTokens * 1e-6,
    libraries: [],
    maxAttempts: 3,
    now: () => new Date(),
    ...own,
  };
  const developer = createToolDeveloper(deps);
  const handleBuild = developer.build.handler(memory.ports);
  return { developer: { handleBuild, handleRepair: developer.handleRepair }, steps, log, events, deps };
}

describe("tool developer service", () => {
  it("registers the passing version, stores the result, then tells the manager", async () => {
    const f = fakes();
    const result = await f.developer.handleBuild(work);
    expect(result).toMatchObject({ ok: true, name: "count_words", version: "sha256:abc", attempts: 1 });
    expect(result.usage.costUsd).toBeGreaterThan(0);
    expect(f.log).toEqual([
      "event tool-build-start",
      "event tool-build-attempt",
      "register parents=0",
      "put r1.build.count_words",
      "notify r1.build.count_words",
      "event tool-build-end",
    ]);
    expect(f.events.map((event) => event.kind)).toEqual([
      "tool-build-start",
      "tool-build-attempt",
      "tool-build-end",
    ]);
  });

  it("a redelivered build only re-announces the stored result", async () => {
    const f = fakes();
    const first = await f.developer.handleBuild(work);
    const again = await f.developer.handleBuild(work);
    expect(again).toEqual(first);
    expect(f.log.filter((effect) => !effect.startsWith("event"))).toEqual([
      "register parents=0",
      "put r1.build.count_words",
      "notify r1.build.count_words",
      "notify r1.build.count_words",
    ]);
  });

  it("retries transient trouble, and stores a failed build on the last delivery", async () => {
    const down = async (): Promise<never> => {
      throw new InsituError("sandbox unreachable", { code: "UNAVAILABLE", retryable: true });
    };
    const f = fakes({ check: down });
    await expect(f.developer.handleBuild(work)).rejects.toThrow(/sandbox unreachable/);
    expect(f.steps.size).toBe(0);
    const g = fakes({ check: down });
    const result: ToolBuildResult = await g.developer.handleBuild(work, { lastDelivery: true });
    expect(result).toMatchObject({ ok: false, reason: "UNAVAILABLE: sandbox unreachable" });
    expect(g.log).toEqual([
      "event tool-build-start",
      "put r1.build.count_words",
      "notify r1.build.count_words",
      "event tool-build-end",
    ]);
  });

  it("a permanent model error becomes a failed build at once", async () => {
    const f = fakes({ model: createScriptedModel([]) });
    const result = await f.developer.handleBuild(work);
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/LLM_SCRIPT_EXHAUSTED/);
  });

  it("a repair spends only the task's remaining tokens and reports budgetExceeded with what it spent", async () => {
    // FAKE: scripted model whose drafts fail their tests and bill 60k tokens each.
    const heavy = { ...draft, usage: { inputTokens: 50_000, outputTokens: 10_000 } };
    const model = createScriptedModel([heavy, heavy, heavy]);
    const f = fakes({
      model,
      test: async () => ({
        report: FAKE_REPORT,
        passed: false,
        results: [{ name: "two", passed: false, failures: ["x"], status: "ok" }],
      }),
      registry: {
        register: async () => ({ version: "sha256:never" }),
        get: async () => repairSource,
        review: async () => undefined,
      },
    });
    const reply = await f.developer.handleRepair({
      taskId: "t1",
      round: 1,
      tool: { name: "count_words", version: "sha256:v1" },
      failingCalls: [{ input: { text: "" }, outcome: "execution-failure", error: "CRASH: boom" }],
      maxTokens: 100_000,
    });
    // Two drafts (120k) cross the 100k left; the third request is never made.
    expect(model.calls).toHaveLength(2);
    expect(reply).toMatchObject({ ok: false, budgetExceeded: true, attempts: 0 });
    expect(reply.reason).toMatch(/BUDGET_EXCEEDED/);
    expect(reply.usage).toMatchObject({ inputTokens: 100_000, outputTokens: 20_000 });
    expect(reply.usage.costUsd).toBeGreaterThan(0);
  });

  it("a repair past the task's deadline makes no model call", async () => {
    const model = createScriptedModel([draft]);
    const f = fakes({
      model,
      registry: {
        register: async () => ({ version: "sha256:never" }),
        get: async () => repairSource,
        review: async () => undefined,
      },
    });
    const reply = await f.developer.handleRepair({
      taskId: "t1",
      round: 1,
      tool: { name: "count_words", version: "sha256:v1" },
      failingCalls: [{ input: { text: "" }, outcome: "execution-failure", error: "CRASH: boom" }],
      deadline: new Date(Date.now() - 1000).toISOString(),
    });
    expect(reply).toMatchObject({ ok: false, budgetExceeded: true });
    expect(model.calls).toHaveLength(0);
  });

  describe("a version the approval policy holds for review (ADR 0130)", () => {
    const pending = { state: "pending" as const, permissions: ["secret:API_KEY"] };
    /** FAKE registry whose review answers come from a list (the last one repeats). */
    function reviewing(
      answers: ({ state: "pending" | "approved" | "rejected"; reason?: string } | undefined)[],
    ) {
      let asked = 0;
      return {
        register: async () => ({ version: "sha256:held", review: pending }),
        get: async () => repairSource,
        review: async () => {
          const answer = answers[Math.min(asked++, answers.length - 1)];
          return answer ? { ...answer, permissions: pending.permissions } : undefined;
        },
        asked: () => asked,
      };
    }

    it("goes on without it by default: the task is told and the build ends TOOL_PENDING_REVIEW", async () => {
      const registry = reviewing([]);
      const f = fakes({ registry });
      const result = await f.developer.handleBuild(work);
      expect(result).toMatchObject({ ok: false, version: "sha256:held", review: "pending" });
      expect(result.reason).toMatch(/^TOOL_PENDING_REVIEW: .*secret:API_KEY/);
      expect(registry.asked()).toBe(0);
      expect(f.events.map((event) => event.kind)).toEqual([
        "tool-build-start",
        "tool-build-attempt",
        "tool-review-pending",
        "tool-build-end",
      ]);
      expect(f.events[2]).toMatchObject({
        version: "sha256:held",
        permissions: ["secret:API_KEY"],
        waiting: false,
      });
      expect(f.events[3]).toMatchObject({ ok: false, review: "pending" });
    });

    it("a task that waits gets the tool once an operator approves it, beating its heartbeat meanwhile", async () => {
      const registry = reviewing([pending, pending, { state: "approved" }]);
      let clock = 0;
      let beats = 0;
      let beatsWhenTold: number | undefined;
      const f = fakes({
        registry,
        review: { onReview: "continue", reviewWaitMs: 60_000, pollMs: 1000 },
        now: () => new Date(clock),
        sleep: async (ms) => {
          clock += ms;
        },
        emit: async (event) => {
          if (event.kind === "tool-review-pending") {
            expect(event.waiting).toBe(true);
            beatsWhenTold = beats;
          }
        },
      });
      const result = await f.developer.handleBuild(
        { ...work, onReview: "wait" },
        { heartbeat: () => beats++ },
      );
      expect(result).toMatchObject({ ok: true, version: "sha256:held", review: "approved" });
      expect(registry.asked()).toBe(3);
      // One beat per poll while waiting, so the work message is not redelivered meanwhile.
      expect(beats - (beatsWhenTold ?? Number.NaN)).toBe(3);
    });

    it("a waiting task is told of a rejection, and stops waiting at the policy's limit", async () => {
      const rejected = reviewing([pending, { state: "rejected", reason: "no (ops)" }]);
      const f = fakes({
        registry: rejected,
        review: { onReview: "wait", reviewWaitMs: 60_000, pollMs: 1000 },
        sleep: async () => {},
      });
      const result = await f.developer.handleBuild(work);
      expect(result).toMatchObject({ ok: false, review: "rejected" });
      expect(result.reason).toMatch(/^TOOL_REJECTED: .*no \(ops\)/);

      let clock = 0;
      const never = reviewing([pending]);
      const g = fakes({
        registry: never,
        review: { onReview: "wait", reviewWaitMs: 5000, pollMs: 1000 },
        now: () => new Date(clock),
        sleep: async (ms) => {
          clock += ms;
        },
      });
      const timedOut = await g.developer.handleBuild(work);
      expect(timedOut).toMatchObject({ ok: false, review: "pending" });
      expect(never.asked()).toBe(5);
    });
  });
});
