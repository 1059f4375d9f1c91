import type { ManagerWork, Payload } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { type LanguageModel, withCallDeadline, withCallLimits } from "@insitu/llm";
import { createScriptedModel } from "@insitu/llm/testing";
import { createLogger } from "@insitu/telemetry";
import { describe, expect, it } from "vitest";
import { judgeRound } from "./judge.js";
import { planRound } from "./planner.js";
import { type ManagerDeps, createManager } from "./service.js";
import { inlineSteps } from "./testing.js";
import type { ManagerState } from "./state.js";

/**
 * Every model attempt is charged to the task, and budgets stop a task during a model call
 * (issue 18). The manager runs its real plan/judge code (generateObject with repairs) over a
 * FAKE scripted model, wired the way main.ts wires it: withCallLimits per call.
 */
function managerWith(
  model: LanguageModel,
  budgets: Partial<ManagerDeps["defaults"]> = {},
  expireOnTime = false,
) {
  const states = new Map<string, { state: ManagerState; revision: number }>();
  const enqueued: Payload<typeof ManagerWork>[] = [];
  const steps = new Map<string, unknown>();
  const queues = inlineSteps();
  const deps: ManagerDeps = {
    store: {
      async get(taskId) {
        const entry = states.get(taskId);
        return entry ? structuredClone(entry) : undefined;
      },
      async create(state) {
        states.set(state.record.taskId, { state: structuredClone(state), revision: 1 });
        return 1;
      },
      async update(state, revision) {
        const entry = states.get(state.record.taskId);
        if (!entry || entry.revision !== revision) throw new InsituError("moved", { code: "CONFLICT" });
        states.set(state.record.taskId, { state: structuredClone(state), revision: revision + 1 });
        return revision + 1;
      },
      async list() {
        return [...states.values()].map((entry) => entry.state);
      },
    },
    effects: {
      async enqueueManager(work) {
        enqueued.push(work);
        queues.enqueue(work);
      },
      async perform(effect) {
        queues.perform(effect);
      },
    },
    plan: (input, limits) => planRound(withCallLimits(model, limits ?? {}), input),
    judge: (input, limits) => judgeRound(withCallLimits(model, limits ?? {}), input),
    search: async () => [],
    readStep: async (taskId, step, schema) => {
      const value = steps.get(`${taskId}.${step}`);
      return value === undefined ? undefined : schema.parse(value);
    },
    writeStep: async (taskId, step, value) => {
      steps.set(`${taskId}.${step}`, structuredClone(value));
    },
    costOf: (usage) => (usage.inputTokens + usage.outputTokens) * 1e-6,
    now: () => new Date(),
    logger: createLogger({ service: "test", level: "error" }),
    defaults: { rounds: 3, tokens: 1_000_000, costUsd: 5, wallMs: 60_000, executorSteps: 10, ...budgets },
    expireOnTime,
  };
  const manager = queues.wrap(createManager(deps));
  return { manager, record: (taskId: string) => states.get(taskId)?.state.record };
}

const invalid = {
  text: "I would rather not answer in JSON.",
  usage: { inputTokens: 1000, outputTokens: 10 },
};

describe("every model attempt is charged to the task", () => {
  it("a plan that never validates: the task fails, and all three attempts are in its usage", async () => {
    const { manager, record } = managerWith(createScriptedModel([invalid, invalid, invalid]));
    const { taskId } = await manager.submit({ question: "What is 2+2?" });
    await manager.handleWork({ taskId, kind: "start", step: "start" });
    const done = record(taskId);
    expect(done?.status).toBe("failed");
    expect(done?.error?.code).toBe("LLM_INVALID_OUTPUT");
    expect(done?.usage).toMatchObject({ inputTokens: 3000, outputTokens: 30 });
    expect(done?.usage.costUsd).toBeCloseTo(3030e-6);
  });

  it("a token budget crossed by failed attempts ends the task as BUDGET_EXCEEDED, with no further request", async () => {
    const model = createScriptedModel([invalid, invalid, invalid]);
    const { manager, record } = managerWith(model, { tokens: 1500 });
    const { taskId } = await manager.submit({ question: "What is 2+2?" });
    await manager.handleWork({ taskId, kind: "start", step: "start" });
    const done = record(taskId);
    expect(done?.status).toBe("budget-exceeded");
    expect(done?.error?.code).toBe("BUDGET_EXCEEDED");
    expect(done?.usage.inputTokens).toBe(2000);
    expect(model.calls).toHaveLength(2);
  });
});

/** FAKE slow provider: answers only when its call is cancelled (then with the cancellation). */
function neverAnswering(): LanguageModel & { calls: number } {
  const model = {
    provider: "fake",
    model: "slow",
    calls: 0,
    generate(request: Parameters<LanguageModel["generate"]>[0]) {
      model.calls += 1;
      return new Promise<never>((_, reject) => {
        request.signal?.addEventListener("abort", () => reject(request.signal?.reason), { once: true });
      });
    },
    // biome-ignore lint/correctness/useYield: never answers
    async *stream() {
      throw new Error("not used");
    },
  };
  return model;
}

describe("wall-time budgets during model calls", () => {
  it("a plan call still running at the task's wall-time end is cut there: BUDGET_EXCEEDED, not a model failure", async () => {
    const slow = neverAnswering();
    const { manager, record } = managerWith(withCallDeadline(slow), { wallMs: 300 });
    const { taskId } = await manager.submit({ question: "What is 2+2?" });
    const started = performance.now();
    await manager.handleWork({ taskId, kind: "start", step: "start" });
    const elapsed = performance.now() - started;
    const done = record(taskId);
    expect(done?.status).toBe("budget-exceeded");
    expect(done?.error?.code).toBe("BUDGET_EXCEEDED");
    expect(elapsed).toBeLessThan(300 + 250);
    expect(slow.calls).toBe(1);
  });

  it("a task waiting on a role ends at its wall-time end without waiting for the sweep", async () => {
    const plan = { json: { required_tool_names: [], tool_usage_guidance: "answer", tool_requests: [] } };
    const { manager, record } = managerWith(createScriptedModel([plan]), { wallMs: 300 }, true);
    const { taskId } = await manager.submit({ question: "What is 2+2?" });
    await manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(record(taskId)?.status).toBe("executing");
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(record(taskId)?.status).toBe("budget-exceeded");
    manager.close();
  });
});

describe("a step handed back to the bus", () => {
  it("keeps the tokens its model call spent before the retryable failure", async () => {
    const model = createScriptedModel([
      invalid,
      { error: { code: "LLM_ABORTED", message: "the service is stopping", retryable: true } },
    ]);
    const { manager, record } = managerWith(model);
    const { taskId } = await manager.submit({ question: "What is 2+2?" });
    const thrown = await manager
      .handleWork({ taskId, kind: "start", step: "start" })
      .catch((error: unknown) => error);
    expect((thrown as InsituError).code).toBe("LLM_ABORTED");
    // Waiting for the plan step's redelivery (ADR 0150: planning is a step of its own).
    expect(record(taskId)?.status).toBe("planning");
    expect(record(taskId)?.usage).toMatchObject({ inputTokens: 1000, outputTokens: 10 });
  });
});
