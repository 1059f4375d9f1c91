import { InsituError, type SerializedError } from "@insitu/errors";
import { LlmErrorCode, llmError } from "./errors.js";
import {
  type EmbedOptions,
  type EmbeddingModel,
  FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type LanguageModel,
  type StreamPart,
  type ToolCall,
  type Usage,
} from "./types.js";

/**
 * FAKE MODEL FOR TESTS AND OFFLINE DEMOS. Its answers are scripted, not generated: they come from
 * a list, from rules, or from a function of the request. Every request it receives is recorded
 * in {@link ScriptedModel.calls}.
 */
export const SCRIPTED_PROVIDER = "scripted";

/** One scripted answer. */
export type ScriptedReply =
  /** Plain text. */
  | string
  | {
      /** Text; an array is joined with newlines (for readable multi-line answers in scenario files). */
      text?: string | string[];
      /** A JSON value sent as the text (structured output). */
      json?: unknown;
      toolCalls?: { name: string; arguments?: Record<string, unknown>; id?: string }[];
      finishReason?: FinishReason;
      usage?: Partial<Usage>;
      reasoning?: string;
      /** Throw this error instead of answering (e.g. `{ code: "LLM_RATE_LIMITED", message: "…" }`). */
      error?: { code: string; message?: string; retryable?: boolean; category?: SerializedError["category"] };
    };

/** Conditions on a request; every given condition must hold. Matching is case-insensitive. */
export interface ScriptedWhen {
  /** The system instruction contains this text. */
  systemContains?: string;
  /** The last user message (or last tool result, as JSON) contains this text. */
  lastMessageContains?: string;
  /** Any message contains this text. */
  anyMessageContains?: string;
  /** A tool of this name is declared. */
  hasTool?: string;
  /** The request asks for structured output (true) or not (false). */
  structured?: boolean;
}

export interface ScriptedStep {
  /** When present, the request must match or the script fails with LLM_SCRIPT_MISMATCH. */
  when?: ScriptedWhen;
  reply: ScriptedReply;
  /** A note for readers of the script; not used. */
  note?: string;
}

export interface ScriptedRule {
  when: ScriptedWhen;
  reply: ScriptedReply;
  note?: string;
}

export type ScriptedResponder = (
  request: GenerateRequest,
  index: number,
) => ScriptedReply | ScriptedStep | Promise<ScriptedReply | ScriptedStep>;

export interface ScriptedModelOptions {
  /** Answers used in order, one per call. */
  steps?: (ScriptedReply | ScriptedStep)[];
  /** Reusable answers, tried when the next step does not apply or the steps ran out. */
  rules?: ScriptedRule[];
  /** Computes the answer instead of (or after) steps and rules. */
  respond?: ScriptedResponder;
  /** Reported model id. Default `scripted`. */
  model?: string;
  /** Characters per streamed text delta. Default 16. */
  streamChunkSize?: number;
}

export class ScriptedModel implements LanguageModel {
  readonly provider = SCRIPTED_PROVIDER;
  readonly model: string;
  /** Every request received, in order (signals removed). */
  readonly calls: GenerateRequest[] = [];
  private nextStep = 0;

  constructor(private readonly options: ScriptedModelOptions) {
    this.model = options.model ?? "scripted";
  }

  /** Steps not yet used. */
  get remainingSteps(): number {
    return (this.options.steps?.length ?? 0) - this.nextStep;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const index = this.calls.length;
    const { signal: _signal, ...recorded } = request;
    this.calls.push(structuredClone(recorded));
    const reply = await this.pick(request, index);
    return toResult(reply, request, this.model, index);
  }

  async *stream(request: GenerateRequest): AsyncIterable<StreamPart> {
    const result = await this.generate(request);
    const size = this.options.streamChunkSize ?? 16;
    if (result.reasoning) yield { type: "reasoning-delta", text: result.reasoning };
    for (let start = 0; start < result.text.length; start += size) {
      yield { type: "text-delta", text: result.text.slice(start, start + size) };
    }
    for (const toolCall of result.toolCalls) yield { type: "tool-call", toolCall };
    yield { type: "finish", result };
  }

  private async pick(request: GenerateRequest, index: number): Promise<ScriptedReply> {
    const steps = this.options.steps ?? [];
    const step = steps[this.nextStep];
    if (step !== undefined) {
      const normalized = asStep(step);
      if (!normalized.when || matches(normalized.when, request)) {
        this.nextStep += 1;
        return normalized.reply;
      }
      const rule = this.options.rules?.find((candidate) => matches(candidate.when, request));
      if (rule) return rule.reply;
      if (!this.options.respond) {
        throw llmError(
          LlmErrorCode.scriptMismatch,
          `scripted model: step ${this.nextStep + 1} expects ${JSON.stringify(normalized.when)} but got: ${summarize(request)}`,
          { category: "system", details: { step: this.nextStep + 1, request: summarize(request) } },
        );
      }
    } else {
      const rule = this.options.rules?.find((candidate) => matches(candidate.when, request));
      if (rule) return rule.reply;
    }
    if (this.options.respond) return asStep(await this.options.respond(request, index)).reply;
    throw llmError(
      LlmErrorCode.scriptExhausted,
      `scripted model ran out of answers at call ${index + 1} (${steps.length} steps scripted): ${summarize(request)}`,
      { category: "system", details: { call: index + 1, steps: steps.length, request: summarize(request) } },
    );
  }
}

/** A scripted (fake) model; see {@link ScriptedModelOptions}. */
export function createScriptedModel(
  options: ScriptedModelOptions | (ScriptedReply | ScriptedStep)[] | ScriptedResponder,
): ScriptedModel {
  if (typeof options === "function") return new ScriptedModel({ respond: options });
  if (Array.isArray(options)) return new ScriptedModel({ steps: options });
  return new ScriptedModel(options);
}

function asStep(value: ScriptedReply | ScriptedStep): ScriptedStep {
  if (typeof value === "object" && value !== null && "reply" in value) return value;
  return { reply: value };
}

function includes(haystack: string | undefined, needle: string): boolean {
  return (haystack ?? "").toLowerCase().includes(needle.toLowerCase());
}

function messageText(message: GenerateRequest["messages"][number]): string {
  if (message.role === "user") return message.content;
  if (message.role === "model") return `${message.content ?? ""} ${JSON.stringify(message.toolCalls ?? [])}`;
  return JSON.stringify(message.results);
}

export function matches(when: ScriptedWhen, request: GenerateRequest): boolean {
  if (when.systemContains !== undefined && !includes(request.system, when.systemContains)) return false;
  if (when.lastMessageContains !== undefined) {
    const last = request.messages.at(-1);
    if (!last || !includes(messageText(last), when.lastMessageContains)) return false;
  }
  if (
    when.anyMessageContains !== undefined &&
    !request.messages.some((message) => includes(messageText(message), when.anyMessageContains ?? ""))
  ) {
    return false;
  }
  if (when.hasTool !== undefined && !(request.tools ?? []).some((tool) => tool.name === when.hasTool))
    return false;
  if (when.structured !== undefined && (request.responseSchema !== undefined) !== when.structured)
    return false;
  return true;
}

function summarize(request: GenerateRequest): string {
  const last = request.messages.at(-1);
  const text = last ? messageText(last) : "(no messages)";
  return `${last?.role ?? "none"}: ${text.slice(0, 200)}`;
}

/** Rough token estimate (≈4 characters per token) so accounting shows plausible figures. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function toResult(
  reply: ScriptedReply,
  request: GenerateRequest,
  model: string,
  index: number,
): GenerateResult {
  const step = typeof reply === "string" ? { text: reply } : reply;
  if (step.error) {
    throw new InsituError(step.error.message ?? `scripted error ${step.error.code}`, {
      code: step.error.code,
      category: step.error.category ?? "third-party",
      retryable: step.error.retryable ?? false,
      details: { provider: SCRIPTED_PROVIDER, scripted: true },
    });
  }
  const text =
    step.json !== undefined
      ? JSON.stringify(step.json)
      : Array.isArray(step.text)
        ? step.text.join("\n")
        : (step.text ?? "");
  const toolCalls: ToolCall[] = (step.toolCalls ?? []).map((call, callIndex) => ({
    id: call.id ?? `scripted_${index + 1}_${callIndex + 1}`,
    name: call.name,
    arguments: call.arguments ?? {},
  }));
  const promptText = `${request.system ?? ""}${request.messages.map(messageText).join("")}`;
  const result: GenerateResult = {
    text,
    toolCalls,
    finishReason: step.finishReason ?? (toolCalls.length > 0 ? FinishReason.toolCalls : FinishReason.stop),
    usage: {
      inputTokens: step.usage?.inputTokens ?? estimateTokens(promptText),
      outputTokens: step.usage?.outputTokens ?? estimateTokens(text + JSON.stringify(step.toolCalls ?? [])),
      cachedTokens: step.usage?.cachedTokens ?? 0,
    },
    model,
    provider: SCRIPTED_PROVIDER,
  };
  if (step.reasoning) result.reasoning = step.reasoning;
  return result;
}

/**
 * FAKE EMBEDDINGS FOR TESTS: a deterministic bag-of-words hashing vector (L2-normalised), so texts
 * sharing words are close. Not a language model; good enough to exercise retrieval code offline.
 */
export class HashingEmbeddingModel implements EmbeddingModel {
  readonly provider = SCRIPTED_PROVIDER;
  readonly model = "hashing-embedding";
  readonly calls: string[][] = [];

  constructor(readonly dimensions = 64) {}

  async embed(texts: string[], _options?: EmbedOptions): Promise<number[][]> {
    this.calls.push([...texts]);
    return texts.map((text) => hashingVector(text, this.dimensions));
  }
}

export function hashingVector(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let hash = 2166136261;
    for (let index = 0; index < word.length; index++) {
      hash ^= word.charCodeAt(index);
      hash = Math.imul(hash, 16777619);
    }
    const slot = (hash >>> 0) % dimensions;
    vector[slot] = (vector[slot] ?? 0) + 1;
  }
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0)) || 1;
  return vector.map((value) => value / norm);
}
