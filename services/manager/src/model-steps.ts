import {
  ExecutionResultSchema,
  type JudgeStepResult,
  type PlanStepResult,
  type TaskUsage,
  type ToolRef,
} from "@insitu/contracts";
import type { CallLimits, Usage } from "@insitu/llm";
import { capabilityOf, matchRequests } from "./library-check.js";
import type { MachineDeps } from "./machine.js";
import type { PlanInput } from "./planner.js";
import { type ManagerState, emptyUsage, stepOf, upsertRef } from "./state.js";

/**
 * The bodies of the Manager's own durable steps (ADR 0150): planning a round (retrieval, the plan
 * call, build avoidance and its re-plan) and judging a round's report. They read the task's state
 * but never write it; what they return is stored as the step's result and fed to `transition` as
 * `plan-done` / `judge-done`. `spent` collects the usage of every call that answered.
 */
export async function runPlanStep(
  state: ManagerState,
  deps: MachineDeps,
  spent: TaskUsage,
): Promise<Extract<PlanStepResult, { ok: true }>> {
  const { record } = state;
  const round = record.round;
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
  const limits = callLimits(state, spent);
  let { plan } = charged(spent, deps, await deps.plan(planInput, limits));
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
      const replanInput: PlanInput = {
        ...planInput,
        ...(catalog ? { catalog } : {}),
        candidates,
        libraryMatches: matches.map((match) => ({
          request: match.request,
          tool: match.tool.name,
          strong: match.strong,
        })),
      };
      plan = charged(spent, deps, await deps.plan(replanInput, callLimits(state, spent))).plan;
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
  return {
    ok: true,
    chosen,
    guidance: plan.tool_usage_guidance,
    requests: plan.tool_requests,
    candidates: candidates.length,
    usage: { ...spent },
  };
}

/** Judges the round in progress from its stored execution result. */
export async function runJudgeStep(
  state: ManagerState,
  deps: MachineDeps,
  spent: TaskUsage,
): Promise<Extract<JudgeStepResult, { ok: true }>> {
  const { record } = state;
  const current = state.current;
  if (!current) throw new Error(`task ${record.taskId} has no round to judge`);
  const step = stepOf(current.round, "execute");
  const result = await deps.readStep(record.taskId, step, ExecutionResultSchema);
  if (!result) throw new Error(`task ${record.taskId}: ${step} is not stored`);
  const judged = await deps.judge(
    {
      taskId: record.taskId,
      question: record.question,
      round: current.round,
      maxRounds: record.budgets.rounds,
      tools: [...current.chosen, ...current.built].map((ref) => ref.name),
      toolCalls: result.toolCalls.map((call) => ({ tool: call.tool, outcome: call.outcome })),
      report: result.report,
    },
    callLimits(state, spent),
  );
  charged(spent, deps, judged);
  return { ok: true, verdict: judged.verdict, usage: { ...spent } };
}

/** Adds a call's usage (priced) to what the step spent. */
export function chargeTo(spent: TaskUsage, deps: Pick<MachineDeps, "costOf">, usage: Usage): void {
  spent.inputTokens += usage.inputTokens;
  spent.outputTokens += usage.outputTokens;
  spent.costUsd = Math.round((spent.costUsd + deps.costOf(usage)) * 1e6) / 1e6;
}

function charged<T extends { usage: Usage }>(spent: TaskUsage, deps: MachineDeps, answer: T): T {
  chargeTo(spent, deps, answer.usage);
  return answer;
}

/**
 * What a model call of this task may still use: its wall-time end and the tokens left after what
 * the task and this step have spent.
 */
function callLimits(state: ManagerState, spent: TaskUsage = emptyUsage()): CallLimits {
  const { record } = state;
  const used = record.usage.inputTokens + record.usage.outputTokens + spent.inputTokens + spent.outputTokens;
  return {
    taskId: record.taskId,
    deadline: Date.parse(record.createdAt) + record.budgets.wallMs,
    maxTokens: Math.max(0, record.budgets.tokens - used),
  };
}
