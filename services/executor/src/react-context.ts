/**
 * One executor round's state (what `runReact` kept in locals and closures) and its context: the
 * worker prompt and tool list, model calls charged to the round's usage, the budget check,
 * history summaries, and the round's result.
 */
import type {
  ExecutionResult,
  ExecutorRunWork,
  Payload,
  TaskEvent,
  ToolCallOutcome,
  ToolRef,
} from "@insitu/contracts";
import {
  type GenerateRequest,
  type LanguageModel,
  type Message,
  type ToolDefinition,
  type Usage,
  emptyUsage,
  usageOfError,
  withUsage,
} from "@insitu/llm";
import { InsituError } from "@insitu/errors";
import type { ToolManifest } from "@insitu/tool-kit";
import { InlineBudget, attachmentList, inlineAttachments } from "./files.js";
import type { BoundToolSource, ReactDeps } from "./react.js";
import { conclusionOf, estimateTokens } from "./report.js";
import { renderPrompt } from "./template.js";

export const REQUEST_CAPABILITY = "request_capability";

export const requestCapabilityTool: ToolDefinition = {
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

export interface CallRecord {
  tool: ToolRef;
  input: unknown;
  outcome: ToolCallOutcome;
  error: string;
  durationMs: number;
  /** False when no rewrite of the tool can help (see {@link repairCanHelp}). */
  repairable: boolean;
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

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A round in progress: set up by {@link openRun}, advanced by `runRound`, read by {@link roundResult}. */
export interface ReactRun {
  readonly work: Payload<typeof ExecutorRunWork>;
  readonly deps: ReactDeps;
  /** Model tokens this round spent (its own calls, summaries, reductions and repairs). */
  readonly usage: Usage;
  /** Cost of tool repairs. */
  toolCost: number;
  readonly charge: (extra: Usage) => void;
  readonly emit: (event: DistributiveOmit<TaskEvent, "taskId" | "time">) => Promise<void>;
  readonly bound: Map<string, { ref: ToolRef; source: BoundToolSource }>;
  readonly definitions: () => ToolDefinition[];
  readonly system: string;
  readonly inlineBudget: InlineBudget;
  messages: Message[];
  /** Files tools asked to show, sent after their results. */
  readonly shown: { files: NonNullable<Extract<Message, { role: "user" }>["files"]>; notes: string[] };
  readonly calls: CallRecord[];
  readonly succeeded: Set<string>;
  readonly repairs: Map<string, number>;
  readonly repaired: ToolRef[];
  steps: number;
  report: string;
  capabilityRequest: ExecutionResult["capabilityRequest"];
  stepBudgetExhausted: boolean;
  /** Set when a repair came back stopped by the task's budget. */
  budgetExceededIn: string | undefined;
  readonly generate: (
    request: Omit<GenerateRequest, "messages" | "taskId" | "signal">,
    model?: LanguageModel,
  ) => Promise<Awaited<ReturnType<LanguageModel["generate"]>>>;
  /** Why the task's budget stops this round now, or undefined. */
  readonly budgetStop: () => string | undefined;
}

/** Sets a round up: binds its tools, renders the worker prompt and the first message. */
export async function openRun(work: Payload<typeof ExecutorRunWork>, deps: ReactDeps): Promise<ReactRun> {
  const usage = emptyUsage();
  const charge = (extra: Usage) => {
    usage.inputTokens += extra.inputTokens;
    usage.outputTokens += extra.outputTokens;
    usage.cachedTokens += extra.cachedTokens;
  };
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
  const deadline = work.deadline ? Date.parse(work.deadline) : Number.POSITIVE_INFINITY;

  const run: ReactRun = {
    work,
    deps,
    usage,
    toolCost: 0,
    charge,
    emit,
    bound,
    definitions,
    system,
    inlineBudget,
    messages: [
      {
        role: "user",
        content: `Question: ${work.question}${attached ? `\n\n${attached}` : ""}${
          firstFiles.notes.length > 0 ? `\n${firstFiles.notes.map((note) => `(${note})`).join("\n")}` : ""
        }\n\nWork on it now.`,
        ...(firstFiles.files.length > 0 ? { files: firstFiles.files } : {}),
      },
    ],
    shown: { files: [], notes: [] },
    calls: [],
    succeeded: new Set<string>(),
    repairs: new Map<string, number>(),
    repaired: [],
    steps: 0,
    report: "",
    capabilityRequest: undefined,
    stepBudgetExhausted: false,
    budgetExceededIn: undefined,
    generate: async (request, model = deps.model) => {
      let result: Awaited<ReturnType<LanguageModel["generate"]>>;
      try {
        result = await model.generate({
          ...request,
          messages: run.messages,
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
    },
    budgetStop: () => {
      if (run.budgetExceededIn)
        return `the task's budget ran out during a tool repair (${run.budgetExceededIn.slice(0, 500)})`;
      if (work.maxTokens !== undefined && usage.inputTokens + usage.outputTokens >= work.maxTokens) {
        return `the task's token budget ran out (${usage.inputTokens + usage.outputTokens} tokens used this round)`;
      }
      if (deps.now().getTime() >= deadline) return "the task's wall-time budget ran out";
      return undefined;
    },
  };
  return run;
}

/** What a finished round reports: its report, calls, repairs and usage. */
export function roundResult(run: ReactRun): ExecutionResult {
  const { report, capabilityRequest, calls, usage } = run;
  return {
    report: report.slice(0, 60_000),
    conclusion: conclusionOf(report).slice(0, 50_000),
    ...(capabilityRequest ? { capabilityRequest } : {}),
    stepBudgetExhausted: run.stepBudgetExhausted,
    steps: run.steps,
    toolCalls: calls.slice(0, 1000).map((call) => ({
      tool: call.tool.name,
      version: call.tool.version,
      outcome: call.outcome,
      durationMs: call.durationMs,
    })),
    repaired: run.repaired,
    succeeded: [...run.succeeded],
    usage: {
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      costUsd: run.deps.costOf(usage) + run.toolCost,
      toolCalls: calls.length,
    },
  };
}

/** Replaces the history by a summary when it nears the context limit. */
export async function maybeSummarize(
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
