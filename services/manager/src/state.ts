import type {
  ExecutorRunWork,
  IntegratorRunWork,
  ManagerStepWork,
  Payload,
  ResolvedTaskBudgets,
  TaskError,
  TaskEvent,
  TaskRecord,
  TaskStatus,
  TaskUsage,
  ToolBuildWork,
  ToolRef,
  ToolRequest,
} from "@insitu/contracts";

/** The round in progress. */
export interface RoundState {
  round: number;
  chosen: ToolRef[];
  guidance: string;
  requests: ToolRequest[];
  /** Names of requested tools whose build has not reported yet. */
  pendingBuilds: string[];
  built: ToolRef[];
  buildFailures: { name: string; reason: string }[];
}

/** A side effect of a transition: performed after the state is committed, idempotent, retried until done. */
export type Effect =
  | { type: "plan"; payload: Payload<typeof ManagerStepWork> }
  | { type: "judge"; payload: Payload<typeof ManagerStepWork> }
  | { type: "build"; payload: Payload<typeof ToolBuildWork> }
  | { type: "execute"; payload: Payload<typeof ExecutorRunWork> }
  | { type: "integrate"; payload: Payload<typeof IntegratorRunWork> }
  | { type: "event"; event: TaskEvent }
  | { type: "finish-task"; taskId: string; keep: ToolRef[]; mode?: "absorb" | "offer" };

/**
 * What the manager keeps per task (KV bucket `tasks`, key = task id). `record` is the public view
 * (`task.get`); the rest is the state machine's memory. The outbox holds the effects of the last
 * committed transition until they are all done, which is what makes a crash between "commit" and
 * "enqueue the next step" harmless.
 */
export interface ManagerState {
  record: TaskRecord;
  /** Step ids already applied (redeliveries of these are acknowledged without effect). */
  appliedSteps: string[];
  outbox: Effect[];
  current?: RoundState;
  failureReport?: string;
  capabilityRequests: string[];
  /** Executor reports, oldest first (bounded). */
  reports: string[];
  findings?: string;
  /** Set when the round budget ran out; the answer is best effort and the status budget-exceeded. */
  exhausted?: TaskError;
  /** Latest version of each tool that succeeded at least once in this task. */
  succeededTools: ToolRef[];
  /** The task's tools are offered for the batch barrier instead of joining the library at its end. */
  admitAtBarrier?: boolean;
  /** The Manager's own step (`r<n>.plan` / `r<n>.judge`) under way: charged even if it ends late. */
  awaiting?: string;
  /** The task's choice when a built tool waits for review (absent: the policy's default). */
  onReview?: "continue" | "wait";
}

export function emptyUsage(): TaskUsage {
  return { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 0 };
}

export function addUsage(target: TaskUsage, extra: Partial<TaskUsage>): void {
  target.inputTokens += extra.inputTokens ?? 0;
  target.outputTokens += extra.outputTokens ?? 0;
  target.costUsd = roundCost(target.costUsd + (extra.costUsd ?? 0));
  target.toolCalls += extra.toolCalls ?? 0;
}

function roundCost(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

export function newTaskState(input: {
  taskId: string;
  question: string;
  budgets: ResolvedTaskBudgets;
  now: Date;
  admit?: "now" | "at-barrier";
  onReview?: "continue" | "wait";
  attachments?: TaskRecord["attachments"];
}): ManagerState {
  const time = input.now.toISOString();
  return {
    record: {
      taskId: input.taskId,
      question: input.question,
      status: "queued",
      round: 0,
      budgets: input.budgets,
      createdAt: time,
      updatedAt: time,
      toolsUsed: [],
      toolsCreated: [],
      usage: emptyUsage(),
      rounds: [],
      ...(input.attachments && input.attachments.length > 0 ? { attachments: input.attachments } : {}),
    },
    ...(input.admit === "at-barrier" ? { admitAtBarrier: true } : {}),
    ...(input.onReview ? { onReview: input.onReview } : {}),
    appliedSteps: [],
    outbox: [],
    capabilityRequests: [],
    reports: [],
    succeededTools: [],
  };
}

/** Tokens, cost or wall time over budget — the problem, or undefined. */
export function budgetProblem(record: TaskRecord, now: Date): TaskError | undefined {
  const tokens = record.usage.inputTokens + record.usage.outputTokens;
  if (tokens > record.budgets.tokens) {
    return {
      code: "BUDGET_EXCEEDED",
      message: `token budget exceeded: ${tokens} of ${record.budgets.tokens} tokens used`,
    };
  }
  if (record.usage.costUsd > record.budgets.costUsd) {
    return {
      code: "BUDGET_EXCEEDED",
      message: `cost budget exceeded: $${record.usage.costUsd.toFixed(4)} of $${record.budgets.costUsd} spent`,
    };
  }
  const elapsed = now.getTime() - Date.parse(record.createdAt);
  if (elapsed > record.budgets.wallMs) {
    return {
      code: "BUDGET_EXCEEDED",
      message: `wall-time budget exceeded: ${elapsed} ms of ${record.budgets.wallMs} ms`,
    };
  }
  return undefined;
}

export function setStatus(state: ManagerState, status: TaskStatus, now: Date): void {
  state.record.status = status;
  state.record.updatedAt = now.toISOString();
}

/** Adds `name` to a list once, keeping order. */
export function addOnce(list: string[], name: string): void {
  if (!list.includes(name)) list.push(name);
}

/** Upserts a tool ref by name (the newest version wins). */
export function upsertRef(list: ToolRef[], ref: ToolRef): void {
  const index = list.findIndex((item) => item.name === ref.name);
  if (index === -1) list.push(ref);
  else list[index] = ref;
}

export function stepOf(round: number, kind: "execute"): string;
export function stepOf(round: number, kind: "build", name: string): string;
export function stepOf(round: number, kind: "build" | "execute", name?: string): string {
  return kind === "build" ? `r${round}.build.${name}` : `r${round}.execute`;
}
