/**
 * The one model interface of insitu. Every role (manager, tool developer, executor, integrator,
 * evolver, summarizer) codes against {@link LanguageModel}; providers (Gemini, OpenAI-compatible,
 * scripted, replay) implement it. Shaped after the Vercel AI SDK core: a request object in,
 * a result (or a stream of parts) out, provider quirks kept behind the interface.
 */

/** A JSON Schema document (draft 2020-12 subset understood by the providers). */
export type JsonSchema = { [key: string]: unknown };

/** Any JSON value (tool arguments and outputs). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One function call the model asked for. */
export interface ToolCall {
  /** Call id; providers that do not issue ids (Gemini) get a generated one. Echo it in the result. */
  id: string;
  /** Name of a declared tool. */
  name: string;
  /** Parsed arguments object (never a JSON string). */
  arguments: Record<string, unknown>;
  /**
   * Opaque provider token that must travel back with this call in the next request
   * (Gemini 3 thought signature — Gemini refuses a function-call turn without it). Keep the
   * model message as returned by {@link toModelMessage} and it is handled for you.
   */
  signature?: string;
}

/** The outcome of one tool call, sent back to the model. */
export interface ToolResult {
  /** The {@link ToolCall.id} this answers. */
  callId: string;
  /** The tool's name (Gemini matches results by name). */
  name: string;
  /** Any JSON value; objects are sent as they are, other values wrapped as `{ result: value }` where a provider needs an object. */
  output: unknown;
  /** True when the output describes a failure (the model should see it as an error). */
  isError?: boolean;
}

/** Message roles. `model` is what the OpenAI world calls `assistant`. */
export const MessageRole = {
  user: "user",
  model: "model",
  tool: "tool",
} as const;
export type MessageRole = (typeof MessageRole)[keyof typeof MessageRole];

export interface UserMessage {
  role: "user";
  content: string;
  /** Images (and PDFs, where the provider reads them) sent inline with the text. */
  files?: InlineFile[];
}

/** A file sent to the model inline: Gemini `inlineData`, OpenAI-compatible `image_url` data URI. */
export interface InlineFile {
  /** Sniffed media type, e.g. `image/png`, `application/pdf`. */
  mediaType: string;
  /** The bytes, base64. */
  data: string;
  /** Workspace name, for notes and logs (never needed by the provider). */
  name?: string;
}

/** A previous model turn: text and/or tool calls (pass back what the model produced). */
export interface ModelMessage {
  role: "model";
  content?: string;
  toolCalls?: ToolCall[];
  /** Opaque provider token for the text part (Gemini thought signature). */
  signature?: string;
}

/** Results of the tool calls of the previous model turn. */
export interface ToolResultMessage {
  role: "tool";
  results: ToolResult[];
}

export type Message = UserMessage | ModelMessage | ToolResultMessage;

/** A function the model may call. */
export interface ToolDefinition {
  /** `^[a-zA-Z_][a-zA-Z0-9_]{0,63}$` — the strictest provider's rule. */
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: JsonSchema;
}

/**
 * `auto`: the model decides; `none`: no tool calls; `required`: at least one tool call;
 * `{ name }`: exactly that tool.
 */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/** How much the model may think before answering (providers map what they support). */
export interface ThinkingSettings {
  /** Gemini 3 `thinkingLevel` / OpenAI `reasoning_effort`. */
  level?: "minimal" | "low" | "medium" | "high";
  /** Token budget for thinking (Gemini 2.5 `thinkingBudget`; 0 disables, -1 dynamic). */
  budgetTokens?: number;
  /** Return thought summaries in {@link GenerateResult.reasoning}. */
  includeThoughts?: boolean;
}

export interface GenerateRequest {
  /** System instruction. */
  system?: string;
  messages: Message[];
  tools?: ToolDefinition[];
  /** Default `auto` when tools are given. */
  toolChoice?: ToolChoice;
  /** Ask for JSON matching this schema (structured output). The text of the result is that JSON. */
  responseSchema?: JsonSchema;
  /** Name for the schema where a provider wants one (OpenAI `json_schema.name`); default `response`. */
  responseSchemaName?: string;
  temperature?: number;
  maxOutputTokens?: number;
  thinking?: ThinkingSettings;
  /** Cancels the call (and any pending retry wait). */
  signal?: AbortSignal;
  /** Per-attempt deadline in milliseconds; on expiry the call fails with LLM_TIMEOUT. */
  timeoutMs?: number;
  /** The task this call works for — used by accounting and budgets, never sent to the provider. */
  taskId?: string;
  /**
   * Absolute deadline of the whole call, retries included (epoch ms) — the task's remaining wall
   * time. Past it the call fails with BUDGET_EXCEEDED (see deadline.ts).
   */
  deadline?: number;
}

/** Why generation stopped. */
export const FinishReason = {
  stop: "stop",
  length: "length",
  toolCalls: "tool-calls",
  safety: "safety",
  error: "error",
  other: "other",
} as const;
export type FinishReason = (typeof FinishReason)[keyof typeof FinishReason];

export interface Usage {
  /** Prompt tokens, cached ones included. */
  inputTokens: number;
  /** Generated tokens, thinking tokens included (they are billed as output). */
  outputTokens: number;
  /** Part of {@link inputTokens} served from the provider's cache. */
  cachedTokens: number;
  /** Part of {@link outputTokens} spent thinking, when the provider reports it. */
  reasoningTokens?: number;
}

export interface GenerateResult {
  /** Concatenated text (for structured output: the JSON text). */
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** The provider's own finish reason, for logs. */
  rawFinishReason?: string;
  usage: Usage;
  /** Model that answered (as reported by the provider when it does). */
  model: string;
  provider: string;
  /** Thought summaries, when asked for with {@link ThinkingSettings.includeThoughts}. */
  reasoning?: string;
  /** Opaque provider token for the text part (Gemini thought signature). */
  signature?: string;
}

/** One element of a streamed response. The last part is always `finish` (or the iterator throws). */
export type StreamPart =
  | { type: "text-delta"; text: string }
  | { type: "reasoning-delta"; text: string }
  | { type: "tool-call"; toolCall: ToolCall }
  | { type: "finish"; result: GenerateResult };

export interface LanguageModel {
  /** `gemini`, `openai-compatible`, `scripted`, `replay` … */
  readonly provider: string;
  /** Model id as configured. */
  readonly model: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Streams text as it is produced; ends with a `finish` part holding the whole result. */
  stream(request: GenerateRequest): AsyncIterable<StreamPart>;
}

export interface EmbedOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  taskId?: string;
  /**
   * Called with the tokens each provider request was billed for — the provider's count, or an
   * estimate ({@link estimateEmbeddingTokens}) where the API reports none (Gemini). The
   * accountant's {@link Accountant.wrapEmbedding} sets it.
   */
  onUsage?: (usage: Usage) => void;
}

/** Characters per token assumed when an embedding API reports no usage (Gemini's does not). */
export const EMBEDDING_CHARS_PER_TOKEN = 4;

/** Estimated input tokens of embedding `texts`: 4 characters a token, at least 1 a text. */
export function estimateEmbeddingTokens(texts: readonly string[]): number {
  let tokens = 0;
  for (const text of texts) tokens += Math.max(1, Math.ceil(text.length / EMBEDDING_CHARS_PER_TOKEN));
  return tokens;
}

export interface EmbeddingModel {
  readonly provider: string;
  readonly model: string;
  /** Length of every returned vector. */
  readonly dimensions: number;
  /** One vector per text, in order. */
  embed(texts: string[], options?: EmbedOptions): Promise<number[][]>;
}

/** The model turn to append to the history after a result (keeps provider signatures). */
export function toModelMessage(result: GenerateResult): ModelMessage {
  const message: ModelMessage = { role: "model" };
  if (result.text) message.content = result.text;
  if (result.toolCalls.length > 0) message.toolCalls = result.toolCalls;
  if (result.signature) message.signature = result.signature;
  return message;
}

/** Empty usage, for adding up. */
export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedTokens: 0 };
}
