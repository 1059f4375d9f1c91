import {
  ExecutionResultSchema,
  IntegrationResultSchema,
  type ExecutionResult,
  type IntegrationResult,
  type Payload,
  type ManagerWork,
  type TaskError,
  type TaskEvent,
  type TaskStatus,
  type TaskUsage,
  ToolBuildResultSchema,
  type ToolBuildResult,
  type ToolRef,
} from "@insitu/contracts";
import { ErrorCode, InsituError } from "@insitu/errors";
import { type CallLimits, type Usage, usageOfError } from "@insitu/llm";
import type { z } from "zod";
import type { JudgeInput, Verdict } from "./judge.js";
import { capabilityOf, matchRequests } from "./library-check.js";
import type { Plan, PlanCatalog, PlanInput, ToolCandidate } from "./planner.js";
import {
  addOnce,
  addUsage,
  budgetProblem,
  type Effect,
  type ManagerState,
  setStatus,
  stepOf,
  upsertRef,
} from "./state.js";

/** What the Manager asks the catalog for: the task and what its neighbourhood is retrieved with. */
export interface CatalogRequest {
  taskId: string;
  query: string;
  capabilities?: string[];
  /** Names the prompt already shows in detail (the candidates). */
  exclude?: string[];
}

/** What transitions need from the outside world; plain functions so tests pass fakes. */
export interface MachineDeps {
  /** `limits`: the task's deadline and remaining tokens; every request of the call stays inside them. */
  plan(input: PlanInput, limits?: CallLimits): Promise<{ plan: Plan; usage: Usage }>;
  judge(input: JudgeInput, limits?: CallLimits): Promise<{ verdict: Verdict; usage: Usage }>;
  /**
   * Registry retrieval (top-k, the task's private pool included); each of `capabilities` adds its
   * own best hits.
   */
  search(input: { query: string; taskId: string; capabilities?: string[] }): Promise<ToolCandidate[]>;
  /**
   * The compact catalog of the whole library for the plan prompt (absent: none shown). Given the
   * round's question and capabilities, its first lines are the tools most related to them; the
   * candidates already shown in detail are excluded from that part (ADR 0106).
   */
  catalog?(input: CatalogRequest): Promise<PlanCatalog | undefined>;
  /** Told how many requested builds a library tool made unnecessary (a metric). */
  onBuildsAvoided?(count: number): void;
  /** A stored step result, or undefined when it is not there (yet). */
  readStep<T>(taskId: string, step: string, schema: z.ZodType<T>): Promise<T | undefined>;
  /** Cost in USD of a model call's usage (0 when prices are not configured). */
  costOf(usage: Usage): number;
  now(): Date;
}

const MAX_REPORTS = 3;
const MAX_REPORT_CHARS = 20_000;

/**
 * Applies one `manager.work` message to the state (mutating a copy the caller commits with
 * compare-and-set). Returns false when the message is stale or already applied.
 */
export async function applyWork(
  state: ManagerState,
  work: Payload<typeof ManagerWork>,
  deps: MachineDeps,
): Promise<boolean> {
  if (state.appliedSteps.includes(work.step)) return false;
  if (isTerminal(state.record.status)) return false;
  // New effects are appended: an outbox still here was committed by a replica that crashed before
  // flushing it, and must be performed with ours (effects are idempotent: enqueues carry
  // deterministic ids; an event may at worst be seen twice, never lost).
  let applied: boolean;
  switch (work.kind) {
    case "start":
      applied = await onStart(state, deps);
      break;
    case "build-done":
      applied = await onBuildDone(state, work.step, deps);
      break;
    case "execution-done":
      applied = await onExecutionDone(state, work.step, deps);
      break;
    case "integration-done":
      applied = await onIntegrationDone(state, work.step, deps);
      break;
  }
  if (applied) state.appliedSteps.push(work.step);
  return applied;
}

/** Ends a task as failed (used when a step fails for good). */
export function failTask(state: ManagerState, error: TaskError, deps: Pick<MachineDeps, "now">): void {
  state.outbox = [];
  finalize(state, "failed", deps.now(), error);
}

/**
 * Ends a task whose wall-time budget ran out while it waited for a role (a role down for longer
 * than the budget). Returns false when the task is finished or still within its budget.
 */
export function expireIfOverdue(state: ManagerState, deps: Pick<MachineDeps, "now">): boolean {
  if (isTerminal(state.record.status)) return false;
  const now = deps.now();
  const problem = budgetProblem(state.record, now);
  if (!problem?.message.startsWith("wall-time")) return false;
  state.outbox = [];
  finalize(state, "budget-exceeded", now, problem);
  return true;
}

function isTerminal(status: TaskStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "budget-exceeded";
}

function event(
  state: ManagerState,
  deps: Pick<MachineDeps, "now">,
  body: DistributiveOmit<TaskEvent, "taskId" | "time">,
): void {
  state.outbox.push({
    type: "event",
    event: { ...body, taskId: state.record.taskId, time: deps.now().toISOString() } as TaskEvent,
  });
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

async function onStart(state: ManagerState, deps: MachineDeps): Promise<boolean> {
  if (state.record.status !== "queued") return false;
  event(state, deps, { kind: "task-start", question: state.record.question });
  await startRound(state, 1, deps);
  return true;
}

/** What a model call of this task may still use: its wall-time end and its remaining tokens. */
function callLimits(state: ManagerState): CallLimits {
  const { record } = state;
  return {
    taskId: record.taskId,
    deadline: Date.parse(record.createdAt) + record.budgets.wallMs,
    maxTokens: Math.max(0, record.budgets.tokens - record.usage.inputTokens - record.usage.outputTokens),
  };
}

/** What a role's step may still spend, in work-item form (tokens left, wall-time end). */
function stepLimits(state: ManagerState): { maxTokens: number; deadline: string } {
  const limits = callLimits(state);
  return {
    maxTokens: Math.max(1, limits.maxTokens ?? 1),
    deadline: new Date(limits.deadline ?? Date.now()).toISOString(),
  };
}

/**
 * Runs one model call (plan or judge) so that every attempt is charged (ADR 0060): a failure's
 * usage (failed, repaired, blocked or truncated answers) is added to the task before anything
 * else, and a budget crossed during the call — or the call stopped by its budget — ends the task
 * as BUDGET_EXCEEDED at once, never as a model failure. Returns undefined when the task ended.
 */
async function chargedCall<T extends { usage: Usage }>(
  state: ManagerState,
  deps: MachineDeps,
  call: (limits: CallLimits) => Promise<T>,
): Promise<T | undefined> {
  try {
    const result = await call(callLimits(state));
    chargeModel(state, result.usage, deps);
    return result;
  } catch (error) {
    const spent = usageOfError(error);
    if (spent) chargeModel(state, spent, deps);
    const problem = budgetProblem(state.record, deps.now());
    if (problem) {
      finalize(state, "budget-exceeded", deps.now(), problem);
      return undefined;
    }
    if (error instanceof InsituError && error.code === ErrorCode.budgetExceeded) {
      finalize(state, "budget-exceeded", deps.now(), {
        code: "BUDGET_EXCEEDED",
        message: error.message.slice(0, 10_000),
      });
      return undefined;
    }
    throw error;
  }
}

function chargeModel(state: ManagerState, usage: Usage, deps: MachineDeps): void {
  addUsage(state.record.usage, {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    costUsd: deps.costOf(usage),
  });
}

async function startRound(state: ManagerState, round: number, deps: MachineDeps): Promise<void> {
  const { record } = state;
  if (round > record.budgets.rounds) {
    roundBudgetExhausted(state, deps);
    return;
  }
  const overBudget = budgetProblem(record, deps.now());
  if (overBudget) {
    finalize(state, "budget-exceeded", deps.now(), overBudget);
    return;
  }
  record.round = round;
  setStatus(state, "planning", deps.now());
  const query = [record.question, state.failureReport].filter(Boolean).join("\n");
  // Each capability the Executor asked for is a query of its own (its best tools are not crowded
  // out by the question's words).
  const capabilities = state.capabilityRequests.slice(-16);
  const candidates = await deps.search({
    query,
    taskId: record.taskId,
    ...(capabilities.length > 0 ? { capabilities } : {}),
  });
  // The catalog's first lines are the task's neighbourhood, retrieved deeper than the candidates:
  // beyond a few hundred tools the most-used lines alone leave out a needed tool ranked just below
  // the top-k (ADR 0106).
  let catalog = await deps.catalog?.({
    taskId: record.taskId,
    query,
    ...(capabilities.length > 0 ? { capabilities } : {}),
    exclude: candidates.map((candidate) => candidate.name),
  });
  const planInput: PlanInput = {
    taskId: record.taskId,
    question: record.question,
    round,
    maxRounds: record.budgets.rounds,
    candidates,
    failureReport: state.failureReport,
    capabilityRequests: state.capabilityRequests,
    findings: state.findings,
    ...(catalog ? { catalog } : {}),
    ...(record.attachments ? { attachments: record.attachments } : {}),
  };
  const planned = await chargedCall(state, deps, (limits) => deps.plan(planInput, limits));
  if (!planned) return;
  let { plan } = planned;
  // Build avoidance: every requested tool is looked up in the library before anything is built.
  if (plan.tool_requests.length > 0) {
    const matches = await matchRequests(plan.tool_requests, (capability) =>
      deps.search({ query: capability, taskId: record.taskId }),
    );
    if (matches.length > 0) {
      for (const match of matches)
        if (!candidates.some((item) => item.name === match.tool.name)) candidates.push(match.tool);
      const requested = plan.tool_requests.map((request) => request.name);
      // The requests are the capabilities the plan names: the catalog is asked again with them, so
      // its first lines are what the library holds near each request (ADR 0106), not only near
      // the question. Without an answer the first catalog stays.
      const requestedCapabilities = [...capabilities, ...plan.tool_requests.map(capabilityOf)].slice(-16);
      catalog =
        (await deps.catalog?.({
          taskId: record.taskId,
          query,
          capabilities: requestedCapabilities,
          exclude: candidates.map((candidate) => candidate.name),
        })) ?? catalog;
      const replanned = await chargedCall(state, deps, (limits) =>
        deps.plan(
          {
            ...planInput,
            ...(catalog ? { catalog } : {}),
            candidates,
            libraryMatches: matches.map((match) => ({
              request: match.request,
              tool: match.tool.name,
              strong: match.strong,
            })),
          },
          limits,
        ),
      );
      if (!replanned) return;
      plan = replanned.plan;
      const avoided = matches.filter(
        (match) =>
          requested.includes(match.request) &&
          !plan.tool_requests.some((request) => request.name === match.request) &&
          plan.required_tool_names.includes(match.tool.name),
      ).length;
      if (avoided > 0) deps.onBuildsAvoided?.(avoided);
    }
  }
  const chosen: ToolRef[] = [];
  for (const name of plan.required_tool_names) {
    const candidate =
      candidates.find((item) => item.name === name) ?? catalog?.entries.find((item) => item.name === name);
    if (candidate) upsertRef(chosen, { name: candidate.name, version: candidate.version });
  }
  state.current = {
    round,
    chosen,
    guidance: plan.tool_usage_guidance,
    requests: plan.tool_requests,
    pendingBuilds: plan.tool_requests.map((request) => request.name),
    built: [],
    buildFailures: [],
  };
  record.rounds.push({
    round,
    toolsChosen: chosen.map((ref) => ref.name),
    toolsRequested: plan.tool_requests.map((request) => request.name),
    buildFailures: [],
  });
  event(state, deps, {
    kind: "plan-end",
    round,
    toolsChosen: chosen.map((ref) => ref.name),
    toolsRequested: plan.tool_requests.map((request) => request.name),
    candidates: candidates.length,
    guidance: plan.tool_usage_guidance,
  });
  const overAfterPlan = budgetProblem(record, deps.now());
  if (overAfterPlan) {
    finalize(state, "budget-exceeded", deps.now(), overAfterPlan);
    return;
  }
  if (plan.tool_requests.length > 0) {
    setStatus(state, "building", deps.now());
    for (const request of plan.tool_requests) {
      state.outbox.push({
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
    return;
  }
  dispatchExecute(state, deps);
}

function dispatchExecute(state: ManagerState, deps: MachineDeps): void {
  const current = requireRound(state);
  const tools: ToolRef[] = [...current.chosen];
  for (const ref of current.built) upsertRef(tools, ref);
  setStatus(state, "executing", deps.now());
  state.outbox.push({
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
      maxTokens: Math.max(
        1,
        state.record.budgets.tokens - state.record.usage.inputTokens - state.record.usage.outputTokens,
      ),
      deadline: new Date(Date.parse(state.record.createdAt) + state.record.budgets.wallMs).toISOString(),
    },
  });
}

function requireRound(state: ManagerState) {
  if (!state.current) {
    throw new InsituError("task has no round in progress", {
      code: "TASK_STATE_INVALID",
      details: { taskId: state.record.taskId },
    });
  }
  return state.current;
}

async function readRequired<T>(
  state: ManagerState,
  step: string,
  schema: z.ZodType<T>,
  deps: MachineDeps,
): Promise<T> {
  const result = await deps.readStep(state.record.taskId, step, schema);
  if (result === undefined) {
    // The role stores its result before it enqueues us, so this is a lagging read: retry later.
    throw new InsituError(`step result ${step} is not stored yet`, {
      code: "STEP_RESULT_MISSING",
      retryable: true,
      details: { taskId: state.record.taskId, step },
    });
  }
  return result;
}

function addStepUsage(state: ManagerState, usage: TaskUsage): void {
  addUsage(state.record.usage, usage);
}

async function onBuildDone(state: ManagerState, step: string, deps: MachineDeps): Promise<boolean> {
  const current = state.current;
  if (!current || state.record.status !== "building") return false;
  const result: ToolBuildResult = await readRequired(state, step, ToolBuildResultSchema, deps);
  if (step !== stepOf(current.round, "build", result.name) || !current.pendingBuilds.includes(result.name)) {
    return false;
  }
  current.pendingBuilds = current.pendingBuilds.filter((name) => name !== result.name);
  addStepUsage(state, result.usage);
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
  const overBudget = budgetProblem(state.record, deps.now());
  if (overBudget) {
    finalize(state, "budget-exceeded", deps.now(), overBudget);
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
    await startRound(state, current.round + 1, deps);
    return true;
  }
  dispatchExecute(state, deps);
  return true;
}

async function onExecutionDone(state: ManagerState, step: string, deps: MachineDeps): Promise<boolean> {
  const current = state.current;
  if (!current || state.record.status !== "executing" || step !== stepOf(current.round, "execute"))
    return false;
  const result: ExecutionResult = await readRequired(state, step, ExecutionResultSchema, deps);
  const { record } = state;
  addStepUsage(state, result.usage);
  for (const call of result.toolCalls) addOnce(record.toolsUsed, call.tool);
  for (const ref of result.repaired) addOnce(record.toolsCreated, ref.name);
  for (const call of result.toolCalls) {
    if (call.outcome === "success")
      upsertRef(state.succeededTools, { name: call.tool, version: call.version });
  }
  state.reports.push(result.report.slice(0, MAX_REPORT_CHARS));
  if (state.reports.length > MAX_REPORTS) state.reports.splice(0, state.reports.length - MAX_REPORTS);
  state.findings = findingsOf(result.report, result.conclusion);
  event(state, deps, {
    kind: "executor-report",
    round: current.round,
    conclusion: result.conclusion.slice(0, 4000),
    steps: result.steps,
    capabilityRequest: result.capabilityRequest?.capability,
  });
  const overBudget = budgetProblem(record, deps.now());
  if (overBudget) {
    finalize(state, "budget-exceeded", deps.now(), overBudget);
    return true;
  }
  let verdict: Verdict;
  if (result.capabilityRequest) {
    const request = result.capabilityRequest;
    const line = `${request.capability} (why: ${request.reason}; intended use: ${request.intendedUse})`;
    state.capabilityRequests.push(line);
    verdict = { status: "RETRY", reason: `The executor asked for a missing capability: ${line}` };
  } else {
    setStatus(state, "judging", deps.now());
    const judged = await chargedCall(state, deps, (limits) =>
      deps.judge(
        {
          taskId: record.taskId,
          question: record.question,
          round: current.round,
          maxRounds: record.budgets.rounds,
          tools: [...current.chosen, ...current.built].map((ref) => ref.name),
          toolCalls: result.toolCalls.map((call) => ({ tool: call.tool, outcome: call.outcome })),
          report: result.report,
        },
        limits,
      ),
    );
    if (!judged) return true;
    verdict = judged.verdict;
  }
  const roundRecord = record.rounds.at(-1);
  if (roundRecord) {
    roundRecord.verdict = verdict.status;
    roundRecord.reason = verdict.reason.slice(0, 4000);
  }
  event(state, deps, {
    kind: "judge-end",
    round: current.round,
    verdict: verdict.status,
    reason: verdict.reason,
  });
  if (verdict.status === "FINISH") {
    dispatchIntegrate(state, deps);
    return true;
  }
  state.failureReport = `Round ${current.round}: ${verdict.reason}`;
  await startRound(state, current.round + 1, deps);
  return true;
}

/** What the next round should not redo: the report's key findings, then its conclusion. */
export function findingsOf(report: string, conclusion: string): string {
  const match = /^#{1,4}\s*Key Findings[^\n]*\n([\s\S]*?)(?=^#{1,4}\s|(?![\s\S]))/im.exec(report);
  const findings = match?.[1]?.trim();
  const text = findings ? `${findings}\n\nConclusion of that round: ${conclusion}` : conclusion;
  return text.slice(0, 20_000);
}

/** Rounds used up: answer from what was found (flagged), or stop with no answer when nothing was. */
function roundBudgetExhausted(state: ManagerState, deps: MachineDeps): void {
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
    finalize(state, "budget-exceeded", deps.now(), error);
    return;
  }
  state.exhausted = error;
  dispatchIntegrate(state, deps);
}

function dispatchIntegrate(state: ManagerState, deps: MachineDeps): void {
  setStatus(state, "integrating", deps.now());
  state.outbox.push({
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

async function onIntegrationDone(state: ManagerState, step: string, deps: MachineDeps): Promise<boolean> {
  if (state.record.status !== "integrating" || step !== "integrate") return false;
  const result: IntegrationResult = await readRequired(state, step, IntegrationResultSchema, deps);
  addStepUsage(state, result.usage);
  state.record.answer = result.answer;
  if (state.exhausted) finalize(state, "budget-exceeded", deps.now(), state.exhausted);
  else finalize(state, "succeeded", deps.now());
  return true;
}

function finalize(state: ManagerState, status: TaskStatus, now: Date, error?: TaskError): void {
  const { record } = state;
  setStatus(state, status, now);
  record.finishedAt = now.toISOString();
  if (error) record.error = error;
  record.toolsKept = state.succeededTools.map((ref) => ref.name);
  state.outbox.push({
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
  state.outbox.push({ type: "event", event: end });
}

export type { Effect };
