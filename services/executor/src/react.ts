import { createHash } from "node:crypto";
import type {
  ExecutionResult,
  Payload,
  ExecutorRunWork,
  Reply,
  TaskEvent,
  ToolCallOutcome,
  ToolRef,
  ToolRepair,
} from "@insitu/contracts";
import { isExternalVersion } from "@insitu/contracts";
import {
  type GenerateRequest,
  type LanguageModel,
  type Message,
  type ToolDefinition,
  type ToolResult,
  type Usage,
  emptyUsage,
  toModelMessage,
  usageOfError,
  withUsage,
} from "@insitu/llm";
import { InsituError } from "@insitu/errors";
import type { BoundTool } from "@insitu/roles";
import { canonicalJson, type ToolManifest, type ToolOutcome } from "@insitu/tool-kit";
import { describeOutcome } from "@insitu/roles";
import { classifyOutcome, isRepairable } from "./classify.js";
import {
  InlineBudget,
  type WorkspaceReader,
  attachmentList,
  inlineAttachments,
  inlineShownFiles,
  withWorkspaceReport,
} from "./files.js";
import { capabilityRequestOf, conclusionOf, estimateTokens } from "./report.js";
import { renderPrompt } from "./template.js";

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

export const REQUEST_CAPABILITY = "request_capability";

const requestCapabilityTool: ToolDefinition = {
  name: REQUEST_CAPABILITY,
  description:
    "Ask the Manager for a capability none of your tools has (a data source, a file format, a precise computation). Ends this round; the Manager can have the tool built and start another round.",
  parameters: {
    type: "object",
    properties: {
      capability: {
        type: "string",
        description: "What the missing tool must do (atomic and general, not about this topic).",
      },
      reason: { type: "string", description: "Why the bound tools cannot do it." },
      intended_use: { type: "string", description: "How you would call it for this question." },
    },
    required: ["capability", "reason"],
  },
};

interface CallRecord {
  tool: ToolRef;
  input: unknown;
  outcome: ToolCallOutcome;
  error: string;
  durationMs: number;
  /** False when no rewrite of the tool can help (see {@link repairCanHelp}). */
  repairable: boolean;
}

/**
 * A denial of a permission the tool already declares is the operator's policy at work: rewriting
 * the tool cannot change it, so no repair is asked for. A denial of something undeclared can be
 * repaired (the tool may declare it, and the policy then decides).
 */
export function repairCanHelp(outcome: ToolOutcome, manifest: ToolManifest): boolean {
  if (outcome.status !== "PERMISSION_DENIED") return true;
  const { kind, target } = outcome.permission;
  if (target === undefined) return true;
  const declared: readonly string[] =
    kind === "net"
      ? (manifest.permissions?.network ?? [])
      : kind === "env"
        ? (manifest.permissions?.secrets ?? [])
        : [];
  return !declared.includes(target);
}

/**
 * The key of one tool call (docs/adr/0094): a redelivered step whose model makes the same call —
 * same position, same tool version, same input — gets the recorded outcome instead of a second
 * run; a different call at that position (a real model may answer differently) runs.
 */
export function toolCallKey(taskId: string, callId: string, version: string, input: unknown): string {
  const digest = createHash("sha256")
    .update(version)
    .update("\n")
    .update(canonicalJson(input ?? null))
    .digest("hex");
  const token = (text: string, max: number) => text.replace(/[^A-Za-z0-9_.:=-]/g, "_").slice(0, max);
  return `${token(taskId, 128)}.${token(callId, 100)}.${digest.slice(0, 32)}`;
}

export function formatBoundTools(tools: { ref: ToolRef; manifest: ToolManifest }[]): string {
  if (tools.length === 0) return "(none: answer by reasoning alone, or call request_capability)";
  return tools
    .map(({ manifest }) => `- ${manifest.name}: ${manifest.description.replace(/\s+/g, " ").trim()}`)
    .join("\n");
}

export function renderWorkerPrompt(work: Payload<typeof ExecutorRunWork>, toolList: string): string {
  return renderPrompt("worker", {
    question: work.question,
    guidance: work.guidance.trim() || "(none)",
    failureReport: work.failureReport?.trim() || "(none: first round)",
    priorFindings: work.priorFindings?.trim() || "(none)",
    tools: toolList,
    maxSteps: work.maxSteps,
  });
}

/** One executor round: ReAct with native function calling, review & repair, a report. */
export async function runReact(
  work: Payload<typeof ExecutorRunWork>,
  deps: ReactDeps,
): Promise<ExecutionResult> {
  const usage = emptyUsage();
  const charge = (extra: Usage) => {
    usage.inputTokens += extra.inputTokens;
    usage.outputTokens += extra.outputTokens;
    usage.cachedTokens += extra.cachedTokens;
  };
  let toolCost = 0;
  const time = () => deps.now().toISOString();
  const emit = async (event: DistributiveOmit<TaskEvent, "taskId" | "time">) => {
    try {
      await deps.emit({ ...event, taskId: work.taskId, time: time() } as TaskEvent);
    } catch {
      // Events are progress hints; losing one must not fail the round.
    }
  };

  const bound = new Map<string, { ref: ToolRef; source: BoundToolSource }>();
  for (const ref of work.tools) bound.set(ref.name, { ref, source: await deps.getTool(ref) });
  const definitions = (): ToolDefinition[] => [
    ...[...bound.values()].map(({ source }) => ({
      name: source.manifest.name,
      description: source.manifest.description,
      parameters: source.manifest.inputSchema,
    })),
    requestCapabilityTool,
  ];
  const system = renderWorkerPrompt(
    work,
    formatBoundTools([...bound.values()].map(({ ref, source }) => ({ ref, manifest: source.manifest }))),
  );
  const inlineBudget = new InlineBudget(deps.inlineBudgetBytes);
  const attached = attachmentList(work.attachments);
  const firstFiles = await inlineAttachments(work.attachments, work.taskId, deps.workspace, inlineBudget);
  let messages: Message[] = [
    {
      role: "user",
      content: `Question: ${work.question}${attached ? `\n\n${attached}` : ""}${
        firstFiles.notes.length > 0 ? `\n${firstFiles.notes.map((note) => `(${note})`).join("\n")}` : ""
      }\n\nWork on it now.`,
      ...(firstFiles.files.length > 0 ? { files: firstFiles.files } : {}),
    },
  ];
  /** Files tools asked to show, sent after their results. */
  const shown: { files: NonNullable<Extract<Message, { role: "user" }>["files"]>; notes: string[] } = {
    files: [],
    notes: [],
  };
  const calls: CallRecord[] = [];
  const succeeded = new Set<string>();
  const repairs = new Map<string, number>();
  const repaired: ToolRef[] = [];
  let steps = 0;
  let report = "";
  let capabilityRequest: ExecutionResult["capabilityRequest"];
  let stepBudgetExhausted = false;

  const generate = async (
    request: Omit<GenerateRequest, "messages" | "taskId" | "signal">,
    model = deps.model,
  ) => {
    let result: Awaited<ReturnType<LanguageModel["generate"]>>;
    try {
      result = await model.generate({
        ...request,
        messages,
        taskId: work.taskId,
        signal: deps.signal,
        // The task's wall-time end bounds the call itself, retries included (ADR 0062).
        ...(work.deadline ? { deadline: Date.parse(work.deadline) } : {}),
      });
    } catch (error) {
      // Every attempt is charged: the failure carries what this round spent, its own usage included.
      charge(usageOfError(error) ?? emptyUsage());
      throw withUsage(InsituError.from(error), usage);
    }
    charge(result.usage);
    deps.heartbeat?.();
    return result;
  };

  const deadline = work.deadline ? Date.parse(work.deadline) : Number.POSITIVE_INFINITY;
  /** Set when a repair came back stopped by the task's budget. */
  let budgetExceededIn: string | undefined;
  /** Why the task's budget stops this round now, or undefined. */
  const budgetStop = (): string | undefined => {
    if (budgetExceededIn)
      return `the task's budget ran out during a tool repair (${budgetExceededIn.slice(0, 500)})`;
    if (work.maxTokens !== undefined && usage.inputTokens + usage.outputTokens >= work.maxTokens) {
      return `the task's token budget ran out (${usage.inputTokens + usage.outputTokens} tokens used this round)`;
    }
    if (deps.now().getTime() >= deadline) return "the task's wall-time budget ran out";
    return undefined;
  };

  for (;;) {
    const stop = budgetStop();
    if (stop) {
      stepBudgetExhausted = true;
      report = budgetStopReport(stop, calls);
      break;
    }
    messages = await maybeSummarize(messages, work, deps, charge);
    const result = await generate({ system, tools: definitions(), toolChoice: "auto" });
    messages.push(toModelMessage(result));
    if (result.toolCalls.length === 0) {
      report = result.text;
      break;
    }
    steps++;
    const results: ToolResult[] = [];
    for (const call of result.toolCalls) {
      if (call.name === REQUEST_CAPABILITY) {
        const args = call.arguments as { capability?: unknown; reason?: unknown; intended_use?: unknown };
        capabilityRequest = {
          capability: String(args.capability ?? "").slice(0, 4000),
          reason: String(args.reason ?? "").slice(0, 4000),
          intendedUse: String(args.intended_use ?? "").slice(0, 4000),
        };
        results.push({ callId: call.id, name: call.name, output: { sent: true } });
        continue;
      }
      const tool = bound.get(call.name);
      if (!tool) {
        results.push({
          callId: call.id,
          name: call.name,
          output: {
            error: `no tool named ${call.name}; bound tools: ${[...bound.keys()].join(", ") || "none"}`,
          },
          isError: true,
        });
        continue;
      }
      const callId = `${work.step}.${steps}.${results.length}`;
      await emit({
        kind: "tool-call-start",
        round: work.round,
        tool: call.name,
        callId,
        input: JSON.stringify(call.arguments).slice(0, 2000),
      });
      const outcome = await deps.exec(
        tool.source,
        call.arguments,
        work.taskId,
        toolCallKey(work.taskId, callId, tool.ref.version, call.arguments),
      );
      deps.heartbeat?.();
      const classified = classifyOutcome(outcome, tool.source.manifest);
      // A tool's answer that it cannot serve this input is the tool working (ADR 0057).
      if (classified === "success" || classified === "rejected-input") succeeded.add(call.name);
      const described = describeOutcome(outcome);
      calls.push({
        tool: tool.ref,
        input: call.arguments,
        outcome: classified,
        error: classified === "success" || classified === "rejected-input" ? "" : described,
        durationMs: outcome.durationMs,
        // External (MCP) tools are not ours to rewrite: never sent for repair.
        repairable:
          isRepairable(classified) &&
          repairCanHelp(outcome, tool.source.manifest) &&
          !isExternalVersion(tool.ref.version),
      });
      await deps.recordUsage({
        callId: `${work.taskId}.${callId}`,
        taskId: work.taskId,
        tool: tool.ref,
        outcome: classified,
        sandboxStatus: outcome.status,
        durationMs: outcome.durationMs,
      });
      await emit({
        kind: "tool-call-end",
        round: work.round,
        tool: call.name,
        callId,
        outcome: classified,
        durationMs: outcome.durationMs,
        output: described.slice(0, 2000),
      });
      const output =
        outcome.status === "ok"
          ? withWorkspaceReport(
              await reduceOutput(outcome.output, call.name, call.arguments, work, deps, charge),
              outcome,
            )
          : { error: described.slice(0, deps.limits.maxToolOutputChars) };
      if (outcome.status === "ok") {
        const images = await inlineShownFiles(outcome.output, work.taskId, deps.workspace, inlineBudget);
        shown.files.push(...images.files);
        shown.notes.push(...images.notes.map((note) => `${call.name}: ${note}`));
      }
      results.push({
        callId: call.id,
        name: call.name,
        output,
        isError: classified !== "success" && classified !== "rejected-input",
      });
    }
    messages.push({ role: "tool", results });
    if (shown.files.length > 0 || shown.notes.length > 0) {
      messages.push({
        role: "user",
        content: [
          shown.files.length > 0
            ? `Files the tools asked to show you: ${shown.files.map((file) => file.name).join(", ")}.`
            : "",
          ...shown.notes.map((note) => `(${note})`),
        ]
          .filter(Boolean)
          .join("\n"),
        ...(shown.files.length > 0 ? { files: [...shown.files] } : {}),
      });
      shown.files.length = 0;
      shown.notes.length = 0;
    }
    if (capabilityRequest) {
      report = capabilityReport(result.text, capabilityRequest, calls);
      break;
    }
    // Review & repair: a tool that failed on valid input and has not succeeded yet gets repaired
    // from its failing calls and replayed on them; the model is told to call it again.
    const notes = await reviewAndRepair();
    // A repair that ran out of the task's budget ends the round here: no model call after it.
    const stopAfterRepair = budgetStop();
    if (stopAfterRepair) {
      stepBudgetExhausted = true;
      report = budgetStopReport(stopAfterRepair, calls);
      break;
    }
    if (notes.length > 0) messages.push({ role: "user", content: notes.join("\n") });
    if (steps >= work.maxSteps) {
      stepBudgetExhausted = true;
      messages.push({ role: "user", content: renderPrompt("budget", { steps }) });
      const final = await generate({ system, tools: definitions(), toolChoice: "none" });
      messages.push(toModelMessage(final));
      report = final.text;
      capabilityRequest = capabilityRequestOf(report);
      break;
    }
  }

  async function reviewAndRepair(): Promise<string[]> {
    const notes: string[] = [];
    const failingByTool = new Map<string, CallRecord[]>();
    for (const call of calls) {
      if (!call.repairable || succeeded.has(call.tool.name)) continue;
      const current = bound.get(call.tool.name);
      if (!current || current.ref.version !== call.tool.version) continue;
      failingByTool.set(call.tool.name, [...(failingByTool.get(call.tool.name) ?? []), call]);
    }
    for (const [name, failing] of failingByTool) {
      const used = repairs.get(name) ?? 0;
      if (used >= deps.limits.maxRepairsPerTool) continue;
      const current = bound.get(name);
      if (!current) continue;
      // The repair's model calls spend the task's budget: it gets what is left, and no repair
      // starts once nothing is (ADR 0090).
      if (budgetStop()) break;
      repairs.set(name, used + 1);
      const answer = await deps.repair({
        taskId: work.taskId,
        round: work.round,
        tool: current.ref,
        failingCalls: failing
          .slice(-5)
          .map((call) => ({ input: call.input, outcome: call.outcome, error: call.error.slice(0, 8000) })),
        question: work.question,
        ...(work.maxTokens !== undefined
          ? { maxTokens: Math.max(1, work.maxTokens - usage.inputTokens - usage.outputTokens) }
          : {}),
        ...(work.deadline ? { deadline: work.deadline } : {}),
      });
      deps.heartbeat?.();
      // Every repair attempt is the task's, the one stopped by the budget included.
      usage.inputTokens += answer.usage.inputTokens;
      usage.outputTokens += answer.usage.outputTokens;
      toolCost += answer.usage.costUsd;
      if (answer.budgetExceeded) {
        await emit({
          kind: "tool-repair-end",
          round: work.round,
          tool: name,
          ok: false,
          reason: (answer.reason ?? "the task's budget ran out during the repair").slice(0, 4000),
        });
        budgetExceededIn = answer.reason ?? "the task's budget ran out during a repair";
        break;
      }
      const unchanged = answer.ok && answer.version === current.ref.version;
      await emit({
        kind: "tool-repair-end",
        round: work.round,
        tool: name,
        ok: answer.ok && !unchanged,
        ...(answer.version && !unchanged ? { version: answer.version } : {}),
        ...(unchanged
          ? { reason: "the repair produced the same version (identical content hash); nothing changed" }
          : answer.reason
            ? { reason: answer.reason.slice(0, 4000) }
            : {}),
      });
      if (answer.ok && answer.version === current.ref.version) {
        // The "repair" is the same content (same hash): not a new version, not announced as one,
        // and the model is not asked to call it again (ADR 0057).
        notes.push(
          `Tool ${name} could not be improved (the rewrite was identical to the current version); work around it.`,
        );
      } else if (answer.ok && answer.version) {
        const ref = { name, version: answer.version };
        bound.set(name, { ref, source: await deps.getTool(ref) });
        repaired.push(ref);
        notes.push(
          `Tool ${name} was repaired (new version ${answer.version.slice(0, 19)}…) and now handles the inputs that failed. Call it again where you need its result.`,
        );
      } else {
        notes.push(
          `Tool ${name} could not be repaired (${(answer.reason ?? "no reason").slice(0, 500)}); work around it.`,
        );
      }
    }
    return notes;
  }

  return {
    report: report.slice(0, 60_000),
    conclusion: conclusionOf(report).slice(0, 50_000),
    ...(capabilityRequest ? { capabilityRequest } : {}),
    stepBudgetExhausted,
    steps,
    toolCalls: calls.slice(0, 1000).map((call) => ({
      tool: call.tool.name,
      version: call.tool.version,
      outcome: call.outcome,
      durationMs: call.durationMs,
    })),
    repaired,
    succeeded: [...succeeded],
    usage: {
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      costUsd: deps.costOf(usage) + toolCost,
      toolCalls: calls.length,
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function budgetStopReport(reason: string, calls: CallRecord[]): string {
  const findings =
    calls.length === 0
      ? "- (no tool calls)"
      : calls
          .map((call) => `- ${call.tool.name}(${JSON.stringify(call.input).slice(0, 300)}) → ${call.outcome}`)
          .join("\n");
  return [
    "## Reasoning & Plan",
    `The round stopped early: ${reason}.`,
    "",
    "## Key Findings & Evidence",
    findings,
    "",
    "## Final Conclusion",
    `Not found: ${reason}.`,
  ].join("\n");
}

function capabilityReport(
  text: string,
  request: NonNullable<ExecutionResult["capabilityRequest"]>,
  calls: CallRecord[],
): string {
  const findings =
    calls.length === 0
      ? "- (no tool calls yet)"
      : calls
          .map((call) => `- ${call.tool.name}(${JSON.stringify(call.input).slice(0, 300)}) → ${call.outcome}`)
          .join("\n");
  return [
    "## Reasoning & Plan",
    text.trim() || "The bound tools cannot supply what the question needs.",
    "",
    "## Key Findings & Evidence",
    findings,
    "",
    "## Final Conclusion",
    `Not found yet: the round stopped to request a missing capability (${request.capability}).`,
    "",
    "## Additional Tool Requirement",
    `- capability: ${request.capability}`,
    `- why: ${request.reason}`,
    `- intended use: ${request.intendedUse}`,
  ].join("\n");
}

/** Replaces the history by a summary when it nears the context limit. */
async function maybeSummarize(
  messages: Message[],
  work: Payload<typeof ExecutorRunWork>,
  deps: ReactDeps,
  charge: (usage: Usage) => void,
): Promise<Message[]> {
  const size = estimateTokens(JSON.stringify(messages));
  if (size < deps.limits.contextTokens * 0.8 || messages.length < 3) return messages;
  const conversation = messages
    .map(renderMessage)
    .join("\n\n")
    .slice(-deps.limits.contextTokens * 3);
  const result = await deps.summarizer.generate({
    messages: [
      {
        role: "user",
        content: renderPrompt("summarize", { question: work.question, conversation, maxWords: 600 }),
      },
    ],
    taskId: work.taskId,
    signal: deps.signal,
  });
  charge(result.usage);
  deps.heartbeat?.();
  return [
    {
      role: "user",
      content: `Question: ${work.question}\n\n## Context Summary\n${result.text.trim()}\n\nContinue from this summary.`,
    },
  ];
}

function renderMessage(message: Message): string {
  switch (message.role) {
    case "user":
      return `User: ${message.content}`;
    case "model":
      return `Agent: ${message.content ?? ""}${(message.toolCalls ?? [])
        .map((call) => `\n└ tool_call -> ${call.name} args=${JSON.stringify(call.arguments)}`)
        .join("")}`;
    case "tool":
      return message.results
        .map((result) => `Tool ${result.name}: ${JSON.stringify(result.output)}`)
        .join("\n");
  }
}

/** Large outputs are reduced to the query-relevant parts (verbatim) before they enter the context. */
async function reduceOutput(
  output: unknown,
  tool: string,
  input: unknown,
  work: Payload<typeof ExecutorRunWork>,
  deps: ReactDeps,
  charge: (usage: Usage) => void,
): Promise<unknown> {
  const text = JSON.stringify(output) ?? "null";
  const max = deps.limits.maxToolOutputChars;
  if (text.length <= max) return output;
  try {
    const result = await deps.summarizer.generate({
      messages: [
        {
          role: "user",
          content: renderPrompt("reduce", {
            question: work.question,
            tool,
            input: JSON.stringify(input).slice(0, 2000),
            size: text.length,
            output: text.slice(0, max * 20),
            maxChars: max,
          }),
        },
      ],
      taskId: work.taskId,
      signal: deps.signal,
    });
    charge(result.usage);
    deps.heartbeat?.();
    return { reduced: true, originalChars: text.length, content: result.text.slice(0, max) };
  } catch {
    // Proportional truncation is the fallback when the summarizer is unavailable.
    return { truncated: true, originalChars: text.length, content: text.slice(0, max) };
  }
}
