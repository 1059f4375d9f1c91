/**
 * The executor's ReAct round. The parts live beside it: react-context.ts (the round's state,
 * prompt, model calls, usage, summaries and result), react-round.ts (one step),
 * react-tool-call.ts (one tool call), react-repair.ts (review & repair).
 */
import type {
  ExecutionResult,
  ExecutorRunWork,
  Payload,
  Reply,
  TaskEvent,
  ToolCallOutcome,
  ToolRef,
  ToolRepair,
} from "@insitu/contracts";
import type { LanguageModel, Usage } from "@insitu/llm";
import type { BoundTool } from "@insitu/roles";
import type { ToolOutcome } from "@insitu/tool-kit";
import type { WorkspaceReader } from "./files.js";
import { openRun, roundResult } from "./react-context.js";
import { runRound } from "./react-round.js";

export { REQUEST_CAPABILITY, formatBoundTools, renderWorkerPrompt } from "./react-context.js";
export { repairCanHelp, toolCallKey } from "./react-tool-call.js";

/** A bound tool: manifest, version, code hash and granted secrets — no code (ADR 0160). */
export type BoundToolSource = BoundTool;

export interface ExecutorLimits {
  /** The model's context window in tokens; history is summarised above 80 % of it. */
  contextTokens: number;
  /** Tool output above this many characters is reduced before it enters the context. */
  maxToolOutputChars: number;
  /** Repairs per tool per run. */
  maxRepairsPerTool: number;
}

export interface ReactDeps {
  model: LanguageModel;
  /** Model for context summaries and output reduction (may be the same model). */
  summarizer: LanguageModel;
  getTool(ref: ToolRef): Promise<BoundToolSource>;
  /**
   * Runs one call. `callKey` names the call (task, step, position, tool version and input): the
   * sandbox runs a key at most once and answers a repeat — this step redelivered after the
   * executor was killed — with the recorded outcome (ADR 0094).
   */
  exec(source: BoundToolSource, input: unknown, taskId: string, callKey?: string): Promise<ToolOutcome>;
  recordUsage(record: {
    /** Unique per call, so a retried record is counted once. */
    callId: string;
    taskId: string;
    tool: ToolRef;
    outcome: ToolCallOutcome;
    sandboxStatus: ToolOutcome["status"];
    durationMs: number;
  }): Promise<void>;
  repair(request: Payload<typeof ToolRepair>): Promise<Reply<typeof ToolRepair>>;
  emit(event: TaskEvent): Promise<void>;
  costOf(usage: Usage): number;
  now(): Date;
  limits: ExecutorLimits;
  heartbeat?: () => void;
  signal?: AbortSignal;
  /** The task workspace, for attachments and tool images shown to the model; none: text only. */
  workspace?: WorkspaceReader;
  /** Inline file bytes (images, PDFs) one round's conversation may carry; default FileLimits. */
  inlineBudgetBytes?: number;
}

/** One executor round: ReAct with native function calling, review & repair, a report. */
export async function runReact(
  work: Payload<typeof ExecutorRunWork>,
  deps: ReactDeps,
): Promise<ExecutionResult> {
  const run = await openRun(work, deps);
  for (;;) {
    if (await runRound(run)) break;
  }
  return roundResult(run);
}
