import type {
  ExecutionResult,
  IntegrationResult,
  ManagerWork,
  Payload,
  ToolBuildResult,
} from "@insitu/contracts";
import { ExecutionResultSchema } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { emptyUsage } from "@insitu/llm";
import { createLogger } from "@insitu/telemetry";
import { describe, expect, it } from "vitest";
import type { Verdict } from "./judge.js";
import type { Plan, ToolCandidate } from "./planner.js";
import { type CatalogRequest, findingsOf } from "./machine.js";
import { type ManagerDeps, createManager } from "./service.js";
import { inlineSteps } from "./testing.js";
import type { Effect, ManagerState } from "./state.js";

/** FAKE stores and ports for unit tests: in-memory, compare-and-set like the KV bucket. */
function fakes(options: {
  plans: Plan[];
  verdicts?: Verdict[];
  candidates?: ToolCandidate[];
  tokensPerCall?: number;
}) {
  const states = new Map<string, { state: ManagerState; revision: number }>();
  const steps = new Map<string, unknown>();
  const callRecords = new Map<string, unknown>();
  const performed: Effect[] = [];
  const enqueued: Payload<typeof ManagerWork>[] = [];
  const plans = [...options.plans];
  const verdicts = [...(options.verdicts ?? [])];
  const planInputs: unknown[] = [];
  let failNextPerform = false;
  const queues = inlineSteps();
  const usage = () => ({ ...emptyUsage(), inputTokens: options.tokensPerCall ?? 100, outputTokens: 10 });
  const deps: ManagerDeps = {
    store: {
      async get(taskId) {
        const entry = states.get(taskId);
        return entry ? structuredClone(entry) : undefined;
      },
      async create(state) {
        if (states.has(state.record.taskId)) throw new InsituError("exists", { code: "CONFLICT" });
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
        if (failNextPerform) {
          failNextPerform = false;
          throw new InsituError("bus down", { code: "UNAVAILABLE", retryable: true });
        }
        if (queues.perform(effect)) return;
        performed.push(effect);
      },
    },
    async plan(input) {
      planInputs.push(input);
      const plan = plans.shift();
      if (!plan) throw new Error("no plan scripted");
      return { plan, usage: usage() };
    },
    async judge() {
      const verdict = verdicts.shift();
      if (!verdict) throw new Error("no verdict scripted");
      return { verdict, usage: usage() };
    },
    async search() {
      return options.candidates ?? [];
    },
    callRecords: {
      async get(taskId, step) {
        return structuredClone(callRecords.get(`${taskId}.${step}`));
      },
      async put(taskId, step, value) {
        callRecords.set(`${taskId}.${step}`, structuredClone(value));
      },
    },
    async readStep(taskId, step, schema) {
      const value = steps.get(`${taskId}.${step}`);
      return value === undefined ? undefined : schema.parse(value);
    },
    async writeStep(taskId, step, value) {
      steps.set(`${taskId}.${step}`, structuredClone(value));
    },
    costOf: (item) => (item.inputTokens + item.outputTokens) * 1e-6,
    now: () => new Date(),
    logger: createLogger({ service: "test", level: "error" }),
    defaults: { rounds: 3, tokens: 1_000_000, costUsd: 5, wallMs: 60_000, executorSteps: 10 },
  };
  return {
    deps,
    manager: queues.wrap(createManager(deps)),
    states,
    steps,
    callRecords,
    performed,
    enqueued,
    planInputs,
    failPerformOnce: () => {
      failNextPerform = true;
    },
    record: (taskId: string) => states.get(taskId)?.state.record,
  };
}

const requestOf = (name: string) => ({
  name,
  description: "does it",
  input_schema: { type: "object", properties: { text: { type: "string" } } },
  output_schema: { type: "object", properties: {} },
});

const build = (name: string, ok: boolean): ToolBuildResult => ({
  ok,
  name,
  attempts: 1,
  ...(ok ? { version: `sha256:${name}` } : { reason: "deno check failed 3 times" }),
  usage: { inputTokens: 50, outputTokens: 50, costUsd: 0, toolCalls: 0 },
});

const execution = (overrides: Partial<ExecutionResult> = {}): ExecutionResult =>
  ExecutionResultSchema.parse({
    report: "## Final Conclusion\n42",
    conclusion: "42",
    stepBudgetExhausted: false,
    steps: 1,
    toolCalls: [{ tool: "count_words", version: "sha256:count_words", outcome: "success", durationMs: 20 }],
    repaired: [],
    succeeded: ["count_words"],
    usage: { inputTokens: 200, outputTokens: 20, costUsd: 0, toolCalls: 1 },
    ...overrides,
  });

const answer: IntegrationResult = {
  answer: { final_answer: "42", reasoning_summary: "counted" },
  usage: { inputTokens: 10, outputTokens: 5, costUsd: 0, toolCalls: 0 },
};

describe("findingsOf", () => {
  it("carries the key findings and the conclusion into the next round", () => {
    const report =
      "## Reasoning & Plan\nx\n\n## Key Findings & Evidence\n- a = 1 (tool t)\n\n## Final Conclusion\nNot found";
    expect(findingsOf(report, "Not found")).toBe("- a = 1 (tool t)\n\nConclusion of that round: Not found");
    expect(findingsOf("no sections", "c")).toBe("c");
  });
});

describe("manager state machine", () => {
  it("drives a task plan → build → execute → judge → integrate → succeeded", async () => {
    const f = fakes({
      plans: [
        { required_tool_names: [], tool_usage_guidance: "count", tool_requests: [requestOf("count_words")] },
      ],
      verdicts: [{ status: "FINISH", reason: "answered" }],
    });
    const finished: string[] = [];
    f.deps.onFinished = (record) => finished.push(record.status);
    const { taskId } = await f.manager.submit({ question: "How many words?" });
    expect(f.enqueued).toEqual([{ taskId, kind: "start", step: "start" }]);
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(f.record(taskId)?.status).toBe("building");
    const buildEffect = f.performed.find((effect) => effect.type === "build");
    expect(buildEffect?.type === "build" && buildEffect.payload.step).toBe("r1.build.count_words");

    f.steps.set(`${taskId}.r1.build.count_words`, build("count_words", true));
    await f.manager.handleWork({ taskId, kind: "build-done", step: "r1.build.count_words" });
    const execute = f.performed.find((effect) => effect.type === "execute");
    expect(execute?.type === "execute" && execute.payload.tools).toEqual([
      { name: "count_words", version: "sha256:count_words" },
    ]);
    expect(f.record(taskId)?.status).toBe("executing");

    f.steps.set(`${taskId}.r1.execute`, execution());
    await f.manager.handleWork({ taskId, kind: "execution-done", step: "r1.execute" });
    expect(f.record(taskId)?.status).toBe("integrating");

    f.steps.set(`${taskId}.integrate`, answer);
    await f.manager.handleWork({ taskId, kind: "integration-done", step: "integrate" });
    const record = f.record(taskId);
    expect(record?.status).toBe("succeeded");
    expect(record?.answer?.final_answer).toBe("42");
    expect(record?.toolsCreated).toEqual(["count_words"]);
    expect(record?.toolsUsed).toEqual(["count_words"]);
    expect(record?.toolsKept).toEqual(["count_words"]);
    expect(record?.usage.toolCalls).toBe(1);
    expect(record?.usage.inputTokens).toBe(100 + 50 + 200 + 100 + 10);
    const kinds = f.performed.map((effect) => (effect.type === "event" ? effect.event.kind : effect.type));
    expect(kinds).toEqual([
      "task-start",
      "plan-end",
      "build",
      "execute",
      "executor-report",
      "judge-end",
      "integrate",
      "finish-task",
      "task-end",
    ]);
    expect(f.states.get(taskId)?.state.outbox).toEqual([]);
    expect(finished).toEqual(["succeeded"]);
  });

  it("applies two builds finishing at once (compare-and-set retry) and dispatches the round once", async () => {
    const f = fakes({
      plans: [
        {
          required_tool_names: [],
          tool_usage_guidance: "both",
          tool_requests: [requestOf("parse_table"), requestOf("count_words")],
        },
      ],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    f.steps.set(`${taskId}.r1.build.parse_table`, build("parse_table", true));
    f.steps.set(`${taskId}.r1.build.count_words`, build("count_words", true));
    await Promise.all([
      f.manager.handleWork({ taskId, kind: "build-done", step: "r1.build.parse_table" }),
      f.manager.handleWork({ taskId, kind: "build-done", step: "r1.build.count_words" }),
    ]);
    const executes = f.performed.filter((effect) => effect.type === "execute");
    expect(executes).toHaveLength(1);
    expect(
      executes[0]?.type === "execute" && executes[0].payload.tools.map((tool) => tool.name).sort(),
    ).toEqual(["count_words", "parse_table"]);
    expect(f.record(taskId)?.toolsCreated.sort()).toEqual(["count_words", "parse_table"]);
  });

  it("a compare-and-set conflict while planning commits the one plan on the new state (ADR 0150)", async () => {
    const f = fakes({
      // One plan only: a second plan call would fail with "no plan scripted".
      plans: [
        { required_tool_names: [], tool_usage_guidance: "", tool_requests: [requestOf("count_words")] },
      ],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    const plan = f.deps.plan;
    f.deps.plan = async (input, limits) => {
      const answer = await plan(input, limits);
      // Another replica commits to the task while this one waits for the model.
      const entry = f.states.get(taskId)!;
      f.states.set(taskId, { state: entry.state, revision: entry.revision + 1 });
      return answer;
    };
    // And the plan-done's first commit loses its race too.
    const update = f.deps.store.update;
    let raced = false;
    f.deps.store.update = async (state, revision) => {
      if (!raced && state.record.status === "building") {
        raced = true;
        const entry = f.states.get(taskId)!;
        f.states.set(taskId, { state: entry.state, revision: entry.revision + 1 });
      }
      return update(state, revision);
    };
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(raced).toBe(true);
    expect(f.planInputs).toHaveLength(1);
    expect(f.record(taskId)?.status).toBe("building");
    // Charged once, by the application that committed.
    expect(f.record(taskId)?.usage).toMatchObject({ inputTokens: 100, outputTokens: 10 });
  });

  it("a redelivered plan step, or a plan-done whose commit crashed, never asks the model again", async () => {
    const f = fakes({
      plans: [
        { required_tool_names: [], tool_usage_guidance: "", tool_requests: [requestOf("count_words")] },
      ],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    await createManager(f.deps).handleWork({ taskId, kind: "start", step: "start" });
    expect(f.record(taskId)?.status).toBe("planning");
    const step = { taskId, kind: "plan" as const, step: "r1.plan", round: 1 };
    // The model answers, then the step's replica dies before its result is stored.
    const write = f.deps.writeStep;
    f.deps.writeStep = async () => {
      f.deps.writeStep = write;
      throw new Error("manager killed before storing the step");
    };
    await expect(createManager(f.deps).handleStep(step)).rejects.toThrow(/killed/);
    // A new replica gets the redelivered step: the model's answer is kept (ADR 0119), not asked again.
    await createManager(f.deps).handleStep(step);
    await createManager(f.deps).handleStep(step);
    expect(f.planInputs).toHaveLength(1);
    expect(f.enqueued.filter((work) => work.kind === "plan-done")).toHaveLength(2);
    // The plan-done's commit crashes; its redelivery applies the stored result.
    const update = f.deps.store.update;
    f.deps.store.update = async () => {
      f.deps.store.update = update;
      throw new Error("manager killed before its commit");
    };
    const done = { taskId, kind: "plan-done" as const, step: "r1.plan" };
    await expect(createManager(f.deps).handleWork(done)).rejects.toThrow(/killed/);
    expect(f.record(taskId)?.status).toBe("planning");
    await createManager(f.deps).handleWork(done);
    expect(f.planInputs).toHaveLength(1);
    expect(f.record(taskId)?.status).toBe("building");
    expect(f.record(taskId)?.usage).toMatchObject({ inputTokens: 100, outputTokens: 10 });
    expect([...f.callRecords.keys()]).toEqual([`${taskId}.manager.r1.plan.plan-1`]);
  });

  it("drops a plan or judge step its task no longer awaits: no model call, nothing stored or told", async () => {
    const f = fakes({
      plans: [
        { required_tool_names: [], tool_usage_guidance: "", tool_requests: [requestOf("count_words")] },
      ],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    await createManager(f.deps).handleWork({ taskId, kind: "start", step: "start" });
    expect(f.record(taskId)?.status).toBe("planning");
    const manager = createManager(f.deps);
    await manager.handleStep({ taskId, kind: "plan", step: "r2.plan", round: 2 });
    await manager.handleStep({ taskId, kind: "judge", step: "r1.judge", round: 1 });
    await manager.handleStep({ taskId: "t-gone", kind: "plan", step: "r1.plan", round: 1 });
    expect(f.planInputs).toHaveLength(0);
    expect([...f.steps.keys()]).toEqual([]);
    expect(f.enqueued.filter((work) => work.kind === "plan-done" || work.kind === "judge-done")).toEqual([]);
    expect(f.record(taskId)?.status).toBe("planning");
  });

  it("acknowledges a redelivered step without doing it twice", async () => {
    const f = fakes({
      plans: [{ required_tool_names: [], tool_usage_guidance: "think", tool_requests: [] }],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    const before = f.performed.length;
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(f.performed.length).toBe(before);
    expect(f.planInputs).toHaveLength(1);
  });

  it("performs a committed outbox on redelivery when the effects failed after the commit", async () => {
    const f = fakes({
      plans: [{ required_tool_names: [], tool_usage_guidance: "think", tool_requests: [] }],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    f.failPerformOnce();
    await expect(f.manager.handleWork({ taskId, kind: "start", step: "start" })).rejects.toThrow(/bus down/);
    expect(f.record(taskId)?.status).toBe("planning");
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(f.performed.some((effect) => effect.type === "execute")).toBe(true);
    expect(f.planInputs).toHaveLength(1);
  });

  it("keeps a crashed replica's unflushed outbox when a sibling step is applied first", async () => {
    const f = fakes({
      plans: [
        {
          required_tool_names: [],
          tool_usage_guidance: "both",
          tool_requests: [requestOf("parse_table"), requestOf("count_words")],
        },
      ],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    // A replica committed a transition and died before performing its effects.
    const stored = f.states.get(taskId)!;
    const pending: Effect = {
      type: "event",
      event: { kind: "plan-end", taskId, time: new Date().toISOString() } as never,
    };
    stored.state.outbox = [pending];
    f.steps.set(`${taskId}.r1.build.parse_table`, build("parse_table", true));
    await f.manager.handleWork({ taskId, kind: "build-done", step: "r1.build.parse_table" });
    expect(f.performed).toContainEqual(pending);
    expect(f.states.get(taskId)?.state.outbox).toEqual([]);
  });

  it("re-plans with the reason when a build fails (instead of answering with no findings)", async () => {
    const f = fakes({
      plans: [
        { required_tool_names: [], tool_usage_guidance: "a", tool_requests: [requestOf("parse_table")] },
        { required_tool_names: [], tool_usage_guidance: "b", tool_requests: [] },
      ],
    });
    const { taskId } = await f.manager.submit({ question: "q" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    f.steps.set(`${taskId}.r1.build.parse_table`, build("parse_table", false));
    await f.manager.handleWork({ taskId, kind: "build-done", step: "r1.build.parse_table" });
    const record = f.record(taskId);
    expect(record?.round).toBe(2);
    expect(record?.status).toBe("executing");
    expect(record?.rounds[0]?.buildFailures).toEqual([
      { name: "parse_table", reason: "deno check failed 3 times" },
    ]);
    const second = f.planInputs[1] as { failureReport?: string };
    expect(second.failureReport).toMatch(/tool parse_table could not be built: deno check failed 3 times/);
  });

  it("ends budget-exceeded with a clear error when every round's build fails", async () => {
    const impossible = {
      required_tool_names: [],
      tool_usage_guidance: "x",
      tool_requests: [requestOf("read_minds")],
    };
    const f = fakes({ plans: [impossible, impossible, impossible] });
    const { taskId } = await f.manager.submit({ question: "q", options: { budgets: { rounds: 3 } } });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    for (const round of [1, 2, 3]) {
      f.steps.set(`${taskId}.r${round}.build.read_minds`, build("read_minds", false));
      await f.manager.handleWork({ taskId, kind: "build-done", step: `r${round}.build.read_minds` });
    }
    const record = f.record(taskId);
    expect(record?.status).toBe("budget-exceeded");
    expect(record?.error?.code).toBe("ROUND_BUDGET_EXCEEDED");
    expect(record?.error?.message).toMatch(/no conclusive answer after 3 rounds/);
    expect(record?.answer).toBeUndefined();
    expect(f.planInputs).toHaveLength(3);
    expect(f.performed.at(-1)).toMatchObject({
      type: "event",
      event: { kind: "task-end", status: "budget-exceeded" },
    });
  });

  it("answers best-effort but flags budget-exceeded when RETRY uses the last round", async () => {
    const think = { required_tool_names: [], tool_usage_guidance: "x", tool_requests: [] };
    const f = fakes({ plans: [think], verdicts: [{ status: "RETRY", reason: "not found" }] });
    const { taskId } = await f.manager.submit({ question: "q", options: { budgets: { rounds: 1 } } });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    f.steps.set(`${taskId}.r1.execute`, execution({ conclusion: "Not found" }));
    await f.manager.handleWork({ taskId, kind: "execution-done", step: "r1.execute" });
    expect(f.record(taskId)?.status).toBe("integrating");
    f.steps.set(`${taskId}.integrate`, answer);
    await f.manager.handleWork({ taskId, kind: "integration-done", step: "integrate" });
    expect(f.record(taskId)?.status).toBe("budget-exceeded");
    expect(f.record(taskId)?.answer?.final_answer).toBe("42");
  });

  it("stops with BUDGET_EXCEEDED when the token budget is spent", async () => {
    const f = fakes({
      plans: [{ required_tool_names: [], tool_usage_guidance: "x", tool_requests: [] }],
      tokensPerCall: 5_000,
    });
    const { taskId } = await f.manager.submit({ question: "q", options: { budgets: { tokens: 1000 } } });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    const record = f.record(taskId);
    expect(record?.status).toBe("budget-exceeded");
    expect(record?.error).toMatchObject({ code: "BUDGET_EXCEEDED" });
    expect(record?.error?.message).toMatch(/token budget exceeded: 5010 of 1000/);
  });

  it("sends a capability request back to planning without a judge call", async () => {
    const think = { required_tool_names: [], tool_usage_guidance: "x", tool_requests: [] };
    const f = fakes({ plans: [think, think] });
    const { taskId } = await f.manager.submit({ question: "q" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    f.steps.set(
      `${taskId}.r1.execute`,
      execution({
        capabilityRequest: { capability: "read PDF text", reason: "a PDF", intendedUse: "page 3" },
      }),
    );
    await f.manager.handleWork({ taskId, kind: "execution-done", step: "r1.execute" });
    const second = f.planInputs[1] as { capabilityRequests: string[] };
    expect(second.capabilityRequests[0]).toMatch(/read PDF text/);
    expect(f.record(taskId)?.rounds[0]?.verdict).toBe("RETRY");
  });

  it("asks the catalog for the task's neighbourhood: question, capabilities asked for, candidates left out", async () => {
    const think = { required_tool_names: [], tool_usage_guidance: "x", tool_requests: [] };
    const searchWeb: ToolCandidate = {
      name: "search_web",
      version: "sha256:search_web",
      description: "Searches the web.",
      inputSchema: { type: "object", properties: { query: { type: "string" } } },
      source: "library",
    };
    const f = fakes({ plans: [think, think], candidates: [searchWeb] });
    const asked: CatalogRequest[] = [];
    // FAKE catalog port: records what the machine asks for.
    f.deps.catalog = async (input) => {
      asked.push(structuredClone(input));
      return { text: "- read_pdf_text: Text of a PDF", total: 2, omitted: 0, entries: [] };
    };
    const { taskId } = await f.manager.submit({ question: "What does page 3 say?" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    f.steps.set(
      `${taskId}.r1.execute`,
      execution({
        capabilityRequest: { capability: "read PDF text", reason: "a PDF", intendedUse: "page 3" },
      }),
    );
    await f.manager.handleWork({ taskId, kind: "execution-done", step: "r1.execute" });
    expect(asked).toHaveLength(2);
    expect(asked[0]).toEqual({ taskId, query: "What does page 3 say?", exclude: ["search_web"] });
    expect(asked[1]?.query).toMatch(/^What does page 3 say\?\n/);
    expect(asked[1]?.capabilities?.[0]).toMatch(/read PDF text/);
    expect(asked[1]?.exclude).toEqual(["search_web"]);
  });

  it("fails the task on a permanent error, and retries a transient one", async () => {
    const f = fakes({ plans: [] });
    const { taskId } = await f.manager.submit({ question: "q" });
    f.deps.search = async () => {
      throw new InsituError("registry down", { code: "UNAVAILABLE", retryable: true });
    };
    await expect(f.manager.handleWork({ taskId, kind: "start", step: "start" })).rejects.toThrow(
      /registry down/,
    );
    expect(f.record(taskId)?.status).toBe("planning");
    // The plan step's last delivery stores the failure; plan-done fails the task.
    await f.manager.handleStep({ taskId, kind: "plan", step: "r1.plan", round: 1 }, { lastDelivery: true });
    expect(f.record(taskId)?.status).toBe("failed");
    expect(f.record(taskId)?.error?.code).toBe("UNAVAILABLE");
  });

  it("ends a task whose wall-time budget runs out while it waits for a role", async () => {
    const f = fakes({ plans: [{ required_tool_names: [], tool_usage_guidance: "x", tool_requests: [] }] });
    let now = Date.parse("2026-01-01T00:00:00Z");
    f.deps.now = () => new Date(now);
    const { taskId } = await f.manager.submit({ question: "q", options: { budgets: { wallMs: 5000 } } });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(await f.manager.sweepOverdue()).toEqual([]);
    now += 6000;
    expect(await f.manager.sweepOverdue()).toEqual([taskId]);
    expect(f.record(taskId)).toMatchObject({ status: "budget-exceeded", error: { code: "BUDGET_EXCEEDED" } });
    expect(f.performed.at(-1)).toMatchObject({ type: "event", event: { kind: "task-end" } });
    // The executor's late result is then acknowledged without effect.
    f.steps.set(`${taskId}.r1.execute`, execution());
    await f.manager.handleWork({ taskId, kind: "execution-done", step: "r1.execute" });
    expect(f.record(taskId)?.status).toBe("budget-exceeded");
  });

  it("a second submit with the same task id returns the task, and refuses another question", async () => {
    const f = fakes({ plans: [] });
    await f.manager.submit({ question: "q", taskId: "fixed-1" });
    expect(await f.manager.submit({ question: "q", taskId: "fixed-1" })).toEqual({
      taskId: "fixed-1",
      status: "queued",
    });
    await expect(f.manager.submit({ question: "other", taskId: "fixed-1" })).rejects.toMatchObject({
      code: "TASK_EXISTS",
    });
    expect((await f.manager.list({})).tasks).toHaveLength(1);
    await expect(f.manager.get({ taskId: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
