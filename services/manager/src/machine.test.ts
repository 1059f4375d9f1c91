import { ExecutionResultSchema, type ExecutionResult, type TaskStatus } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import { type Effect, type ManagerState, newTaskState } from "./state.js";
import { type ManagerEvent, transition } from "./transition.js";

/**
 * The Manager's state machine, table-driven (ADR 0150): `transition` is pure, so every case is a
 * state, an event and a time — no store, no bus, no model. States are reached by applying events
 * from a new task; every event kind is applied in every state.
 */

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (ms: number) => new Date(T0 + ms);
const soon = at(1000);
const late = at(120_000);
const usage = (tokens: number) => ({
  inputTokens: tokens,
  outputTokens: 0,
  costUsd: tokens * 1e-6,
  toolCalls: 0,
});
const requestOf = (name: string) => ({
  name,
  description: "does it",
  input_schema: { type: "object", properties: {} },
  output_schema: { type: "object", properties: {} },
});
const execution = (overrides: Partial<ExecutionResult> = {}): ExecutionResult =>
  ExecutionResultSchema.parse({
    report: "## Key Findings\n- 42 words\n## Final Conclusion\n42",
    conclusion: "42",
    stepBudgetExhausted: false,
    steps: 1,
    toolCalls: [{ tool: "count_words", version: "sha256:cw", outcome: "success", durationMs: 5 }],
    repaired: [],
    succeeded: ["count_words"],
    usage: usage(200),
    ...overrides,
  });

/** Every event kind, by a name the table uses. */
const events = {
  start: { kind: "start", step: "start" },
  "plan:execute": {
    kind: "plan-done",
    step: "r1.plan",
    result: {
      ok: true,
      chosen: [{ name: "count_words", version: "sha256:cw" }],
      guidance: "count",
      requests: [],
      candidates: 1,
      usage: usage(100),
    },
  },
  "plan:build": {
    kind: "plan-done",
    step: "r1.plan",
    result: {
      ok: true,
      chosen: [],
      guidance: "build",
      requests: [requestOf("parse_table")],
      candidates: 0,
      usage: usage(100),
    },
  },
  "plan:failed": {
    kind: "plan-done",
    step: "r1.plan",
    result: { ok: false, error: { code: "LLM_INVALID_OUTPUT", message: "not JSON" }, usage: usage(300) },
  },
  "plan:budget": {
    kind: "plan-done",
    step: "r1.plan",
    result: {
      ok: false,
      error: { code: "BUDGET_EXCEEDED", message: "stopped at the deadline" },
      usage: usage(0),
    },
  },
  "build:ok": {
    kind: "build-done",
    step: "r1.build.parse_table",
    result: { ok: true, name: "parse_table", version: "sha256:pt", attempts: 1, usage: usage(50) },
  },
  "build:failed": {
    kind: "build-done",
    step: "r1.build.parse_table",
    result: { ok: false, name: "parse_table", reason: "deno check failed", attempts: 3, usage: usage(50) },
  },
  "execution:report": { kind: "execution-done", step: "r1.execute", result: execution() },
  "execution:capability": {
    kind: "execution-done",
    step: "r1.execute",
    result: execution({
      capabilityRequest: { capability: "read PDF", reason: "a PDF", intendedUse: "page 3" },
    }),
  },
  "judge:finish": {
    kind: "judge-done",
    step: "r1.judge",
    result: { ok: true, verdict: { status: "FINISH", reason: "answered" }, usage: usage(10) },
  },
  "judge:retry": {
    kind: "judge-done",
    step: "r1.judge",
    result: { ok: true, verdict: { status: "RETRY", reason: "count again" }, usage: usage(10) },
  },
  "judge:failed": {
    kind: "judge-done",
    step: "r1.judge",
    result: { ok: false, error: { code: "LLM_INVALID_OUTPUT", message: "not JSON" }, usage: usage(30) },
  },
  integration: {
    kind: "integration-done",
    step: "integrate",
    result: { answer: { final_answer: "42", reasoning_summary: "counted" }, usage: usage(20) },
  },
  "step-failed": { kind: "step-failed", error: { code: "STEP_RESULT_INVALID", message: "unreadable" } },
  expire: { kind: "expire" },
} satisfies Record<string, ManagerEvent>;
type EventName = keyof typeof events;

function run(state: ManagerState, ...names: EventName[]): ManagerState {
  let current = state;
  for (const name of names) {
    const next = transition(current, events[name], soon);
    if (!next.applied) throw new Error(`${name} did not apply in ${current.record.status}`);
    current = { ...next.state, outbox: [] };
  }
  return current;
}

const fresh = () =>
  newTaskState({
    taskId: "t-1",
    question: "How many words?",
    budgets: { rounds: 3, tokens: 100_000, costUsd: 5, wallMs: 60_000, executorSteps: 10 },
    now: at(0),
  });

/** The states a task passes through, reached by events (the same `now` throughout). */
const states = {
  queued: () => fresh(),
  planning: () => run(fresh(), "start"),
  building: () => run(fresh(), "start", "plan:build"),
  executing: () => run(fresh(), "start", "plan:execute"),
  judging: () => run(fresh(), "start", "plan:execute", "execution:report"),
  integrating: () => run(fresh(), "start", "plan:execute", "execution:report", "judge:finish"),
  succeeded: () => run(fresh(), "start", "plan:execute", "execution:report", "judge:finish", "integration"),
  failed: () => run(fresh(), "start", "plan:failed"),
  /** Ended by its wall time while its plan step still ran. */
  "expired-planning": () => ({ ...transition(run(fresh(), "start"), events.expire, late).state, outbox: [] }),
  /** Ended by its wall time while its judge step still ran. */
  "expired-judging": () => ({
    ...transition(run(fresh(), "start", "plan:execute", "execution:report"), events.expire, late).state,
    outbox: [],
  }),
} satisfies Record<string, () => ManagerState>;
type StateName = keyof typeof states;

interface Expected {
  status: TaskStatus;
  /** Effect types in order; events as `event:<kind>`. */
  effects: string[];
}

const finished = (status: TaskStatus): Expected => ({ status, effects: ["finish-task", "event:task-end"] });
const fails = finished("failed");

/** Every (state, event) that applies; every pair not listed must leave the state untouched. */
const applies: Partial<Record<StateName, Partial<Record<EventName, Expected>>>> = {
  queued: {
    start: { status: "planning", effects: ["event:task-start", "plan"] },
    "step-failed": fails,
  },
  planning: {
    "plan:execute": { status: "executing", effects: ["event:plan-end", "execute"] },
    "plan:build": { status: "building", effects: ["event:plan-end", "build"] },
    "plan:failed": fails,
    "plan:budget": finished("budget-exceeded"),
    "step-failed": fails,
  },
  building: {
    "build:ok": { status: "executing", effects: ["execute"] },
    "build:failed": { status: "planning", effects: ["plan"] },
    "step-failed": fails,
  },
  executing: {
    "execution:report": { status: "judging", effects: ["event:executor-report", "judge"] },
    "execution:capability": {
      status: "planning",
      effects: ["event:executor-report", "event:judge-end", "plan"],
    },
    "step-failed": fails,
  },
  judging: {
    "judge:finish": { status: "integrating", effects: ["event:judge-end", "integrate"] },
    "judge:retry": { status: "planning", effects: ["event:judge-end", "plan"] },
    "judge:failed": fails,
    "step-failed": fails,
  },
  integrating: {
    integration: finished("succeeded"),
    "step-failed": fails,
  },
  // A late model step is still charged to the ended task (nothing else changes).
  "expired-planning": {
    "plan:execute": { status: "budget-exceeded", effects: [] },
    "plan:build": { status: "budget-exceeded", effects: [] },
    "plan:failed": { status: "budget-exceeded", effects: [] },
    "plan:budget": { status: "budget-exceeded", effects: [] },
  },
  "expired-judging": {
    "judge:finish": { status: "budget-exceeded", effects: [] },
    "judge:retry": { status: "budget-exceeded", effects: [] },
    "judge:failed": { status: "budget-exceeded", effects: [] },
  },
};

const effectName = (effect: Effect) => (effect.type === "event" ? `event:${effect.event.kind}` : effect.type);
const cases = (Object.keys(states) as StateName[]).flatMap((state) =>
  (Object.keys(events) as EventName[]).map((event) => [state, event, applies[state]?.[event]] as const),
);

describe("transition: every event in every state", () => {
  it.each(cases)("%s + %s", (stateName, eventName, expected) => {
    const before = states[stateName]();
    const snapshot = structuredClone(before);
    const next = transition(before, events[eventName], soon);
    // Pure: the input state is never changed.
    expect(before).toEqual(snapshot);
    if (!expected) {
      expect(next.applied).toBe(false);
      expect(next.effects).toEqual([]);
      expect(next.state).toEqual(snapshot);
      return;
    }
    expect(next.applied).toBe(true);
    expect(next.state.record.status).toBe(expected.status);
    expect(next.effects.map(effectName)).toEqual(expected.effects);
    expect(next.state.outbox).toEqual(next.effects);
    const event = events[eventName];
    if ("result" in event) {
      // Every step result's usage is charged exactly once.
      const added = next.state.record.usage.inputTokens - before.record.usage.inputTokens;
      expect(added).toBe(event.result.usage.inputTokens);
      expect(next.state.appliedSteps).toContain(event.step);
      expect(transition(next.state, event, soon).applied).toBe(false);
    }
  });
});

describe("transition: budgets and rounds", () => {
  it("expire ends any running task past its wall time, and no task within it", () => {
    for (const name of ["queued", "planning", "building", "executing", "judging", "integrating"] as const) {
      expect(transition(states[name](), events.expire, soon).applied).toBe(false);
      const next = transition(states[name](), events.expire, late);
      expect(next.state.record.status).toBe("budget-exceeded");
      expect(next.state.record.error?.message).toMatch(/^wall-time budget exceeded/);
      expect(next.effects.map(effectName)).toEqual(["finish-task", "event:task-end"]);
    }
    expect(transition(states.succeeded(), events.expire, late).applied).toBe(false);
  });

  it("a plan whose usage crosses the token budget ends the task after its plan-end", () => {
    const state = states.planning();
    state.record.budgets.tokens = 50;
    const next = transition(state, events["plan:execute"], soon);
    expect(next.state.record.status).toBe("budget-exceeded");
    expect(next.effects.map(effectName)).toEqual(["event:plan-end", "finish-task", "event:task-end"]);
  });

  it("a failed plan that crossed the budget is BUDGET_EXCEEDED, not a model failure; the outbox is kept", () => {
    const state = states.planning();
    state.record.budgets.tokens = 200;
    state.outbox = [
      { type: "event", event: { kind: "task-start", taskId: "t-1", time: "x", question: "q" } },
    ];
    const next = transition(state, events["plan:failed"], soon);
    expect(next.state.record).toMatchObject({
      status: "budget-exceeded",
      error: { code: "BUDGET_EXCEEDED" },
    });
    expect(next.state.outbox).toHaveLength(3);
    // A model failure drops the unperformed outbox (the task failed).
    const failed = transition({ ...states.planning(), outbox: state.outbox }, events["plan:failed"], soon);
    expect(failed.state.record.error?.code).toBe("LLM_INVALID_OUTPUT");
    expect(failed.state.outbox.map(effectName)).toEqual(["finish-task", "event:task-end"]);
  });

  it("the last round's RETRY integrates what was found, flagged ROUND_BUDGET_EXCEEDED", () => {
    const state = states.judging();
    state.record.budgets.rounds = 1;
    const next = transition(state, events["judge:retry"], soon);
    expect(next.state.record.status).toBe("integrating");
    expect(next.state.exhausted?.code).toBe("ROUND_BUDGET_EXCEEDED");
    const done = transition({ ...next.state, outbox: [] }, events.integration, soon);
    expect(done.state.record).toMatchObject({ status: "budget-exceeded", answer: { final_answer: "42" } });
  });

  it("rounds used up with no report end the task without an answer", () => {
    const state = states.building();
    state.record.budgets.rounds = 1;
    const next = transition(state, events["build:failed"], soon);
    expect(next.state.record).toMatchObject({
      status: "budget-exceeded",
      error: { code: "ROUND_BUDGET_EXCEEDED" },
    });
  });

  it("a build that is not the last pending one only records itself", () => {
    const state = states.building();
    state.current!.pendingBuilds.push("count_words");
    const next = transition(state, events["build:ok"], soon);
    expect(next.state.record.status).toBe("building");
    expect(next.effects).toEqual([]);
    expect(next.state.current?.built).toEqual([{ name: "parse_table", version: "sha256:pt" }]);
  });

  it("a re-plan carries the failure, and the next round's plan step is r2.plan", () => {
    const next = transition(states.judging(), events["judge:retry"], soon);
    expect(next.state.failureReport).toBe("Round 1: count again");
    expect(next.effects.at(-1)).toEqual({
      type: "plan",
      payload: { taskId: "t-1", kind: "plan", step: "r2.plan", round: 2 },
    });
  });
});

describe("transition under compare-and-set", () => {
  it("re-running on the state another replica committed meanwhile asks no model: planning is an effect", () => {
    const planning = states.planning();
    // Another replica charged the task in between (a failed attempt's usage).
    const raced = structuredClone(planning);
    raced.record.usage.inputTokens += 7;
    const first = transition(planning, events["plan:build"], soon);
    const again = transition(raced, events["plan:build"], soon);
    expect(again.effects.map(effectName)).toEqual(first.effects.map(effectName));
    expect(again.state.record.usage.inputTokens).toBe(first.state.record.usage.inputTokens + 7);
    // The plan step is named by its round, so its effect is the same message on every re-run.
    const start = transition(states.queued(), events.start, soon);
    expect(transition(states.queued(), events.start, soon).effects).toEqual(start.effects);
  });
});
