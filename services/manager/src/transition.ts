import type {
  ExecutionResult,
  IntegrationResult,
  JudgeStepResult,
  PlanStepResult,
  TaskError,
  TaskEvent,
  TaskStatus,
  TaskUsage,
  ToolBuildResult,
  ToolRef,
} from "@insitu/contracts";
import {
  addOnce,
  addUsage,
  budgetProblem,
  type Effect,
  type ManagerState,
  type RoundState,
  setStatus,
  stepOf,
  upsertRef,
} from "./state.js";

/**
 * What drives a task: its start, a stored step result (of a role or of the Manager's own plan and
 * judge steps), a step that failed for good, or its wall-time end.
 */
export type ManagerEvent =
  | { kind: "start"; step: string }
  | { kind: "plan-done"; step: string; result: PlanStepResult }
  | { kind: "build-done"; step: string; result: ToolBuildResult }
  | { kind: "execution-done"; step: string; result: ExecutionResult }
  | { kind: "judge-done"; step: string; result: JudgeStepResult }
  | { kind: "integration-done"; step: string; result: IntegrationResult }
  | { kind: "step-failed"; error: TaskError }
  | { kind: "expire" };

export interface Transition {
  /** The next state; its outbox holds `effects` (after any not yet performed). */
  state: ManagerState;
  /** What to do once the state is stored: enqueue steps, publish events, finish the task. */
  effects: Effect[];
  /** False when the event is stale or already applied: nothing to store. */
  applied: boolean;
}

/** Step ids of the Manager's own steps. */
export const planStep = (round: number) => `r${round}.plan`;
export const judgeStep = (round: number) => `r${round}.judge`;

const MAX_REPORTS = 3;
const MAX_REPORT_CHARS = 20_000;

interface Ctx {
  state: ManagerState;
  now: Date;
  effects: Effect[];
  /** The outbox not yet performed is dropped (the task failed or expired). */
  dropOutbox: boolean;
}

/**
 * The Manager's state machine (ADR 0150): pure — no I/O, no clock but `now` — so a
 * compare-and-set conflict simply runs it again on the fresh state. Model calls are effects
 * (`plan`, `judge`) performed after the state is stored; their stored results come back as
 * `plan-done` / `judge-done`.
 */
export function transition(previous: ManagerState, event: ManagerEvent, now: Date): Transition {
  const ctx: Ctx = { state: structuredClone(previous), now, effects: [], dropOutbox: false };
  if (!apply(ctx, event)) return { state: previous, effects: [], applied: false };
  const { state } = ctx;
  if ("step" in event) state.appliedSteps.push(event.step);
  // New effects are appended: an outbox still here was committed by a replica that crashed before
  // flushing it, and must be performed with ours (effects are idempotent).
  state.outbox = [...(ctx.dropOutbox ? [] : state.outbox), ...ctx.effects];
  return { state, effects: ctx.effects, applied: true };
}

function apply(ctx: Ctx, event: ManagerEvent): boolean {
  const { state } = ctx;
  if ("step" in event && state.appliedSteps.includes(event.step)) return false;
  if (isTerminal(state.record.status)) {
    // The Manager's own model calls were paid even if the task ended meanwhile (wall time).
    if ((event.kind === "plan-done" || event.kind === "judge-done") && event.step === state.awaiting) {
      delete state.awaiting;
      addUsage(state.record.usage, event.result.usage);
      return true;
    }
    return false;
  }
  switch (event.kind) {
    case "start":
      return onStart(ctx);
    case "plan-done":
      return onPlanDone(ctx, event.step, event.result);
    case "build-done":
      return onBuildDone(ctx, event.step, event.result);
    case "execution-done":
      return onExecutionDone(ctx, event.step, event.result);
    case "judge-done":
      return onJudgeDone(ctx, event.step, event.result);
    case "integration-done":
      return onIntegrationDone(ctx, event.step, event.result);
    case "step-failed":
      ctx.dropOutbox = true;
      finalize(ctx, "failed", event.error);
      return true;
    case "expire": {
      const problem = budgetProblem(state.record, ctx.now);
      if (!problem?.message.startsWith("wall-time")) return false;
      ctx.dropOutbox = true;
      finalize(ctx, "budget-exceeded", problem);
      return true;
    }
  }
}

export function isTerminal(status: TaskStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "budget-exceeded";
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function event(ctx: Ctx, body: DistributiveOmit<TaskEvent, "taskId" | "time">): void {
  ctx.effects.push({
    type: "event",
    event: { ...body, taskId: ctx.state.record.taskId, time: ctx.now.toISOString() } as TaskEvent,
  });
}

function onStart(ctx: Ctx): boolean {
  if (ctx.state.record.status !== "queued") return false;
  event(ctx, { kind: "task-start", question: ctx.state.record.question });
  startRound(ctx, 1);
  return true;
}

/** What a role's step may still spend, in work-item form (tokens left, wall-time end). */
function stepLimits(state: ManagerState): { maxTokens: number; deadline: string } {
  const { record } = state;
  return {
    maxTokens: Math.max(1, record.budgets.tokens - record.usage.inputTokens - record.usage.outputTokens),
    deadline: new Date(Date.parse(record.createdAt) + record.budgets.wallMs).toISOString(),
  };
}

function startRound(ctx: Ctx, round: number): void {
  const { state, now } = ctx;
  const { record } = state;
  if (round > record.budgets.rounds) {
    roundBudgetExhausted(ctx);
    return;
  }
  const overBudget = budgetProblem(record, now);
  if (overBudget) {
    finalize(ctx, "budget-exceeded", overBudget);
    return;
  }
  record.round = round;
  setStatus(state, "planning", now);
  state.awaiting = planStep(round);
  ctx.effects.push({
    type: "plan",
    payload: { taskId: record.taskId, kind: "plan", step: planStep(round), round },
  });
}

/**
 * A model step that failed for good: its usage is charged first (ADR 0060); a budget crossed, or
 * a call stopped by its budget, ends the task as BUDGET_EXCEEDED, never as a model failure.
 */
function modelStepFailed(ctx: Ctx, error: TaskError): void {
  const problem = budgetProblem(ctx.state.record, ctx.now);
  if (problem) finalize(ctx, "budget-exceeded", problem);
  else if (error.code === "BUDGET_EXCEEDED") finalize(ctx, "budget-exceeded", error);
  else {
    ctx.dropOutbox = true;
    finalize(ctx, "failed", error);
  }
}

function onPlanDone(ctx: Ctx, step: string, result: PlanStepResult): boolean {
  const { state, now } = ctx;
  const { record } = state;
  if (record.status !== "planning" || step !== planStep(record.round)) return false;
  delete state.awaiting;
  addUsage(record.usage, result.usage);
  if (!result.ok) {
    modelStepFailed(ctx, result.error);
    return true;
  }
  const round = record.round;
  const requested = result.requests.map((request) => request.name);
  state.current = {
    round,
    chosen: result.chosen,
    guidance: result.guidance,
    requests: result.requests,
    pendingBuilds: [...requested],
    built: [],
    buildFailures: [],
  };
  const toolsChosen = result.chosen.map((ref) => ref.name);
  record.rounds.push({ round, toolsChosen, toolsRequested: requested, buildFailures: [] });
  event(ctx, {
    kind: "plan-end",
    round,
    toolsChosen,
    toolsRequested: requested,
    candidates: result.candidates,
    guidance: result.guidance,
  });
  const overAfterPlan = budgetProblem(record, now);
  if (overAfterPlan) {
    finalize(ctx, "budget-exceeded", overAfterPlan);
    return true;
  }
  if (result.requests.length === 0) {
    dispatchExecute(ctx, state.current);
    return true;
  }
  setStatus(state, "building", now);
  for (const request of result.requests) {
    ctx.effects.push({
      type: "build",
      payload: {
        taskId: record.taskId,
        round,
        step: stepOf(round, "build", request.name),
        request,
        question: record.question,
        ...stepLimits(state),
        ...(state.onReview ? { onReview: state.onReview } : {}),
      },
    });
  }
  return true;
}

function dispatchExecute(ctx: Ctx, current: RoundState): void {
  const { state } = ctx;
  const tools: ToolRef[] = [...current.chosen];
  for (const ref of current.built) upsertRef(tools, ref);
  setStatus(state, "executing", ctx.now);
  ctx.effects.push({
    type: "execute",
    payload: {
      taskId: state.record.taskId,
      round: current.round,
      step: stepOf(current.round, "execute"),
      question: state.record.question,
      ...(state.record.attachments ? { attachments: state.record.attachments } : {}),
      tools,
      guidance: current.guidance,
      failureReport: state.failureReport,
      priorFindings: state.findings,
      maxSteps: state.record.budgets.executorSteps,
      ...stepLimits(state),
    },
  });
}

function onBuildDone(ctx: Ctx, step: string, result: ToolBuildResult): boolean {
  const { state, now } = ctx;
  const current = state.current;
  if (!current || state.record.status !== "building") return false;
  if (step !== stepOf(current.round, "build", result.name) || !current.pendingBuilds.includes(result.name)) {
    return false;
  }
  current.pendingBuilds = current.pendingBuilds.filter((name) => name !== result.name);
  addUsage(state.record.usage, result.usage);
  const roundRecord = state.record.rounds.at(-1);
  if (result.ok && result.version) {
    upsertRef(current.built, { name: result.name, version: result.version });
    addOnce(state.record.toolsCreated, result.name);
  } else {
    const reason = result.reason ?? "the build failed without a reason";
    current.buildFailures.push({ name: result.name, reason });
    roundRecord?.buildFailures.push({ name: result.name, reason: reason.slice(0, 4000) });
  }
  if (current.pendingBuilds.length > 0) return true;
  const overBudget = budgetProblem(state.record, now);
  if (overBudget) {
    finalize(ctx, "budget-exceeded", overBudget);
    return true;
  }
  if (current.buildFailures.length > 0) {
    // The original jumped to the final answer here, with no findings; we re-plan with the reason.
    const reason = current.buildFailures
      .map((failure) => `tool ${failure.name} could not be built: ${failure.reason}`)
      .join("\n");
    if (roundRecord) {
      roundRecord.verdict = "RETRY";
      roundRecord.reason = reason.slice(0, 4000);
    }
    state.failureReport = `Round ${current.round}: ${reason}\nDo not request these tools again with the same specification; simplify them or choose another route.`;
    startRound(ctx, current.round + 1);
    return true;
  }
  dispatchExecute(ctx, current);
  return true;
}

function onExecutionDone(ctx: Ctx, step: string, result: ExecutionResult): boolean {
  const { state, now } = ctx;
  const current = state.current;
  if (!current || state.record.status !== "executing" || step !== stepOf(current.round, "execute"))
    return false;
  const { record } = state;
  addUsage(record.usage, result.usage);
  for (const call of result.toolCalls) addOnce(record.toolsUsed, call.tool);
  for (const ref of result.repaired) addOnce(record.toolsCreated, ref.name);
  for (const call of result.toolCalls) {
    if (call.outcome === "success")
      upsertRef(state.succeededTools, { name: call.tool, version: call.version });
  }
  state.reports.push(result.report.slice(0, MAX_REPORT_CHARS));
  if (state.reports.length > MAX_REPORTS) state.reports.splice(0, state.reports.length - MAX_REPORTS);
  state.findings = findingsOf(result.report, result.conclusion);
  event(ctx, {
    kind: "executor-report",
    round: current.round,
    conclusion: result.conclusion.slice(0, 4000),
    steps: result.steps,
    capabilityRequest: result.capabilityRequest?.capability,
  });
  const overBudget = budgetProblem(record, now);
  if (overBudget) {
    finalize(ctx, "budget-exceeded", overBudget);
    return true;
  }
  if (result.capabilityRequest) {
    const request = result.capabilityRequest;
    const line = `${request.capability} (why: ${request.reason}; intended use: ${request.intendedUse})`;
    state.capabilityRequests.push(line);
    afterVerdict(ctx, current, {
      status: "RETRY",
      reason: `The executor asked for a missing capability: ${line}`,
    });
    return true;
  }
  setStatus(state, "judging", now);
  state.awaiting = judgeStep(current.round);
  ctx.effects.push({
    type: "judge",
    payload: { taskId: record.taskId, kind: "judge", step: judgeStep(current.round), round: current.round },
  });
  return true;
}

function onJudgeDone(ctx: Ctx, step: string, result: JudgeStepResult): boolean {
  const { state } = ctx;
  const current = state.current;
  if (!current || state.record.status !== "judging" || step !== judgeStep(current.round)) return false;
  delete state.awaiting;
  addUsage(state.record.usage, result.usage);
  if (!result.ok) modelStepFailed(ctx, result.error);
  else afterVerdict(ctx, current, result.verdict);
  return true;
}

function afterVerdict(
  ctx: Ctx,
  current: RoundState,
  verdict: { status: "FINISH" | "RETRY"; reason: string },
): void {
  const { state } = ctx;
  const roundRecord = state.record.rounds.at(-1);
  if (roundRecord) {
    roundRecord.verdict = verdict.status;
    roundRecord.reason = verdict.reason.slice(0, 4000);
  }
  event(ctx, { kind: "judge-end", round: current.round, verdict: verdict.status, reason: verdict.reason });
  if (verdict.status === "FINISH") {
    dispatchIntegrate(ctx);
    return;
  }
  state.failureReport = `Round ${current.round}: ${verdict.reason}`;
  startRound(ctx, current.round + 1);
}

/** What the next round should not redo: the report's key findings, then its conclusion. */
export function findingsOf(report: string, conclusion: string): string {
  const match = /^#{1,4}\s*Key Findings[^\n]*\n([\s\S]*?)(?=^#{1,4}\s|(?![\s\S]))/im.exec(report);
  const findings = match?.[1]?.trim();
  const text = findings ? `${findings}\n\nConclusion of that round: ${conclusion}` : conclusion;
  return text.slice(0, 20_000);
}

/** Rounds used up: answer from what was found (flagged), or stop with no answer when nothing was. */
function roundBudgetExhausted(ctx: Ctx): void {
  const { state } = ctx;
  const rounds = state.record.budgets.rounds;
  const error: TaskError = {
    code: "ROUND_BUDGET_EXCEEDED",
    message:
      `no conclusive answer after ${rounds} round${rounds === 1 ? "" : "s"}; last failure: ${state.failureReport ?? "unknown"}`.slice(
        0,
        10_000,
      ),
  };
  if (state.reports.length === 0) {
    finalize(ctx, "budget-exceeded", error);
    return;
  }
  state.exhausted = error;
  dispatchIntegrate(ctx);
}

function dispatchIntegrate(ctx: Ctx): void {
  const { state } = ctx;
  setStatus(state, "integrating", ctx.now);
  ctx.effects.push({
    type: "integrate",
    payload: {
      taskId: state.record.taskId,
      step: "integrate",
      question: state.record.question,
      report: state.reports.join("\n\n---\n\n").slice(-200_000),
      ...stepLimits(state),
    },
  });
}

function onIntegrationDone(ctx: Ctx, step: string, result: IntegrationResult): boolean {
  const { state } = ctx;
  if (state.record.status !== "integrating" || step !== "integrate") return false;
  addUsage(state.record.usage, result.usage as TaskUsage);
  state.record.answer = result.answer;
  if (state.exhausted) finalize(ctx, "budget-exceeded", state.exhausted);
  else finalize(ctx, "succeeded");
  return true;
}

function finalize(ctx: Ctx, status: TaskStatus, error?: TaskError): void {
  const { state, now } = ctx;
  const { record } = state;
  setStatus(state, status, now);
  record.finishedAt = now.toISOString();
  if (error) record.error = error;
  record.toolsKept = state.succeededTools.map((ref) => ref.name);
  ctx.effects.push({
    type: "finish-task",
    taskId: record.taskId,
    keep: [...state.succeededTools],
    ...(state.admitAtBarrier ? { mode: "offer" as const } : {}),
  });
  const end: TaskEvent = {
    kind: "task-end",
    taskId: record.taskId,
    time: now.toISOString(),
    status,
    toolsUsed: [...record.toolsUsed],
    toolsCreated: [...record.toolsCreated],
    usage: { ...record.usage },
  };
  if (record.answer) end.answer = record.answer;
  if (error) end.error = error;
  ctx.effects.push({ type: "event", event: end });
}
