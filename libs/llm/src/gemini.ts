import {
  type Content,
  type FunctionCallingConfig,
  FunctionCallingConfigMode,
  type GenerateContentConfig,
  type GenerateContentResponse,
  GoogleGenAI,
  type Part,
  type ThinkingConfig,
  ThinkingLevel,
} from "@google/genai";
import { ErrorCategory } from "@insitu/errors";
import { LlmErrorCode, llmError } from "./errors.js";
import { usageDetail } from "./attempt-usage.js";
import { callSignal, deadlineExceededError } from "./deadline.js";
import { type RateLimitGate, type RetryOptions, fetchWithRetry, toLlmError } from "./http-retry.js";
import {
  type EmbedOptions,
  EMBEDDING_CHARS_PER_TOKEN,
  type EmbeddingModel,
  FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type LanguageModel,
  type Message,
  type StreamPart,
  type ToolCall,
  type Usage,
  estimateEmbeddingTokens,
} from "./types.js";

export const GEMINI_PROVIDER = "gemini";
/** Public endpoint; override with `baseUrl` (tests point it at a local stand-in). */
export const GEMINI_DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com";

export interface GeminiOptions {
  apiKey: string;
  model: string;
  /** Default: the public Gemini API. */
  baseUrl?: string;
  /** Default: the SDK's (`v1` in @google/genai 3.x; the SDK calls `{base}/v1/models/{model}:generateContent`). */
  apiVersion?: string;
  retry?: RetryOptions;
  /** Default per-attempt deadline when a request sets none. */
  timeoutMs?: number;
  /** Called before each retry wait. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Shared rate-limit cooldowns (default: process-wide). */
  gate?: RateLimitGate;
}

/** Finish reasons that mean the answer was withheld for safety/policy. */
const SAFETY_FINISH = new Set([
  "SAFETY",
  "RECITATION",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
]);
/** Prefix of call ids we generate (Gemini may not send ids); such ids are not sent back. */
const GENERATED_ID_PREFIX = "gemini_call_";

/**
 * Gemini through the official @google/genai SDK. The SDK sends the request; our fetch underneath
 * it adds the retry policy (408/429/5xx with backoff, Retry-After honoured) and per-attempt
 * deadlines, because the SDK's own retry ignores Retry-After and is off by default.
 */
export class GeminiModel implements LanguageModel {
  readonly provider = GEMINI_PROVIDER;
  readonly model: string;
  private readonly client: GoogleGenAI;
  private readonly options: GeminiOptions;

  constructor(options: GeminiOptions) {
    this.options = options;
    this.model = options.model;
    this.client = createGeminiClient(options);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    // One signal per call: the SDK leaves a listener on the signal it is given after a successful
    // call, so a long-lived caller signal must never reach it (REFERENCE.md part B).
    const call = callSignal(request);
    const sniffed: Sniffed = {};
    let response: GenerateContentResponse;
    try {
      response = await this.client.models.generateContent({
        model: this.model,
        contents: toGeminiContents(request.messages),
        config: this.config(request, call.signal, sniffed),
      });
    } catch (error) {
      throw toLlmError(error, this.provider, call.signal);
    } finally {
      call.release();
    }
    return readGeminiResponse(response, this.model, sniffed.finishMessage);
  }

  async *stream(request: GenerateRequest): AsyncIterable<StreamPart> {
    const sniffed: Sniffed = {};
    const accumulator = new GeminiStreamAccumulator(this.model, () => sniffed.finishMessage);
    const call = callSignal(request);
    try {
      const stream = await this.client.models.generateContentStream({
        model: this.model,
        contents: toGeminiContents(request.messages),
        config: this.config(request, call.signal, sniffed),
      });
      for await (const chunk of stream) {
        for (const part of accumulator.add(chunk)) yield part;
      }
    } catch (error) {
      throw toLlmError(error, this.provider, call.signal);
    } finally {
      call.release();
    }
    yield { type: "finish", result: accumulator.finish() };
  }

  private config(request: GenerateRequest, signal: AbortSignal, sniffed: Sniffed): GenerateContentConfig {
    const config: GenerateContentConfig = {
      httpOptions: {
        fetch: (url, init) =>
          sniffFinishMessage(
            fetchWithRetry(url, init ?? {}, {
              provider: this.provider,
              retry: this.options.retry,
              timeoutMs: request.timeoutMs ?? this.options.timeoutMs,
              signal,
              ...(this.options.onRetry ? { onRetry: this.options.onRetry } : {}),
              ...(request.deadline !== undefined
                ? { deadline: request.deadline, deadlineError: () => deadlineExceededError(request) }
                : {}),
              ...(this.options.gate ? { gate: this.options.gate } : {}),
              gateKey: `${this.provider}/${this.model}`,
            }),
            sniffed,
          ),
      },
    };
    config.abortSignal = signal;
    if (request.system) config.systemInstruction = request.system;
    if (request.temperature !== undefined) config.temperature = request.temperature;
    if (request.maxOutputTokens !== undefined) config.maxOutputTokens = request.maxOutputTokens;
    if (request.tools && request.tools.length > 0) {
      config.tools = [
        {
          functionDeclarations: request.tools.map((tool) => ({
            name: tool.name,
            description: tool.description,
            parametersJsonSchema: tool.parameters,
          })),
        },
      ];
      config.toolConfig = { functionCallingConfig: toFunctionCallingConfig(request.toolChoice) };
    }
    if (request.responseSchema) {
      config.responseMimeType = "application/json";
      config.responseJsonSchema = request.responseSchema;
    }
    if (request.thinking) {
      const thinking: ThinkingConfig = {};
      if (request.thinking.level) thinking.thinkingLevel = THINKING_LEVEL[request.thinking.level];
      if (request.thinking.budgetTokens !== undefined)
        thinking.thinkingBudget = request.thinking.budgetTokens;
      if (request.thinking.includeThoughts !== undefined)
        thinking.includeThoughts = request.thinking.includeThoughts;
      config.thinkingConfig = thinking;
    }
    return config;
  }
}

const THINKING_LEVEL = {
  minimal: ThinkingLevel.MINIMAL,
  low: ThinkingLevel.LOW,
  medium: ThinkingLevel.MEDIUM,
  high: ThinkingLevel.HIGH,
} as const;

function createGeminiClient(options: { apiKey: string; baseUrl?: string; apiVersion?: string }): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: options.apiKey,
    // No base URL unless one is configured: the SDK then reads GOOGLE_GEMINI_BASE_URL, and an
    // explicit one would always win over it (REFERENCE.md part B).
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
    },
  });
}

export function toFunctionCallingConfig(choice: GenerateRequest["toolChoice"]): FunctionCallingConfig {
  if (choice === undefined || choice === "auto") return { mode: FunctionCallingConfigMode.AUTO };
  if (choice === "none") return { mode: FunctionCallingConfigMode.NONE };
  if (choice === "required") return { mode: FunctionCallingConfigMode.ANY };
  return { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: [choice.name] };
}

/** Our messages as Gemini `contents` (tool results travel as a user turn of functionResponse parts). */
export function toGeminiContents(messages: Message[]): Content[] {
  const contents: Content[] = [];
  for (const message of messages) {
    if (message.role === "user") {
      contents.push({
        role: "user",
        parts: [
          { text: message.content },
          ...(message.files ?? []).map((file) => ({
            inlineData: { mimeType: file.mediaType, data: file.data },
          })),
        ],
      });
    } else if (message.role === "model") {
      const parts: Part[] = [];
      if (message.content) {
        const part: Part = { text: message.content };
        if (message.signature) part.thoughtSignature = message.signature;
        parts.push(part);
      }
      for (const call of message.toolCalls ?? []) {
        const part: Part = {
          functionCall: {
            ...(call.id.startsWith(GENERATED_ID_PREFIX) ? {} : { id: call.id }),
            name: call.name,
            args: call.arguments,
          },
        };
        if (call.signature) part.thoughtSignature = call.signature;
        parts.push(part);
      }
      if (parts.length === 0) parts.push({ text: "" });
      contents.push({ role: "model", parts });
    } else {
      contents.push({
        role: "user",
        parts: message.results.map((result) => ({
          functionResponse: {
            ...(result.callId.startsWith(GENERATED_ID_PREFIX) ? {} : { id: result.callId }),
            name: result.name,
            response: result.isError
              ? { error: result.output }
              : isPlainObject(result.output)
                ? result.output
                : { output: result.output },
          },
        })),
      });
    }
  }
  return contents;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function mapFinishReason(raw: string | undefined, hasToolCalls: boolean): FinishReason {
  if (hasToolCalls) return FinishReason.toolCalls;
  if (raw === undefined || raw === "STOP") return FinishReason.stop;
  if (raw === "MAX_TOKENS") return FinishReason.length;
  if (SAFETY_FINISH.has(raw)) return FinishReason.safety;
  if (raw === "MALFORMED_FUNCTION_CALL" || raw === "UNEXPECTED_TOOL_CALL") return FinishReason.error;
  return FinishReason.other;
}

function readUsage(response: GenerateContentResponse): Usage {
  const metadata = response.usageMetadata;
  const thoughts = metadata?.thoughtsTokenCount ?? 0;
  const usage: Usage = {
    inputTokens: metadata?.promptTokenCount ?? 0,
    outputTokens: (metadata?.candidatesTokenCount ?? 0) + thoughts,
    cachedTokens: metadata?.cachedContentTokenCount ?? 0,
  };
  if (thoughts > 0) usage.reasoningTokens = thoughts;
  return usage;
}

interface Sniffed {
  finishMessage?: string;
}

const FINISH_MESSAGE = /"finishMessage"\s*:\s*"((?:[^"\\]|\\.){0,4000})"/;

/**
 * @google/genai 3.x drops a candidate's `finishMessage` (the text of a MALFORMED_FUNCTION_CALL)
 * when it converts the REST answer; this reads it from the bytes on their way to the SDK, keeping
 * only a bounded window, so the error can say what the model wrote.
 */
async function sniffFinishMessage(pending: Promise<Response>, sniffed: Sniffed): Promise<Response> {
  const response = await pending;
  if (!response.body) return response;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let window = "";
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        window = (window + decoder.decode(value, { stream: true })).slice(-16_384);
        if (window.includes('"finishMessage"')) {
          const match = FINISH_MESSAGE.exec(window);
          if (match?.[1] !== undefined) {
            try {
              sniffed.finishMessage = JSON.parse(`"${match[1]}"`) as string;
            } catch {
              sniffed.finishMessage = match[1];
            }
          }
        }
        controller.enqueue(value);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** MALFORMED_FUNCTION_CALL, typed the same whether the answer was streamed or not. */
function malformedCall(model: string, finishMessage: string | undefined, usage: Usage): never {
  throw llmError(
    LlmErrorCode.badResponse,
    `Gemini produced a malformed function call${finishMessage ? `: ${finishMessage}` : ""}`,
    {
      retryable: true,
      details: {
        provider: GEMINI_PROVIDER,
        model,
        finishReason: "MALFORMED_FUNCTION_CALL",
        finishMessage: finishMessage?.slice(0, 4000),
        usage: usageDetail(usage),
      },
    },
  );
}

function checkPromptBlocked(response: GenerateContentResponse, model: string, usage: Usage): void {
  const feedback = response.promptFeedback;
  if (feedback?.blockReason) {
    throw llmError(
      LlmErrorCode.safetyBlock,
      `Gemini blocked the prompt (${feedback.blockReason})${feedback.blockReasonMessage ? `: ${feedback.blockReasonMessage}` : ""}`,
      {
        category: ErrorCategory.user,
        details: {
          provider: GEMINI_PROVIDER,
          model,
          blockReason: feedback.blockReason,
          safetyRatings: JSON.parse(JSON.stringify(feedback.safetyRatings ?? [])),
          usage: usageDetail(usage),
        },
      },
    );
  }
}

function safetyStop(raw: string, model: string, ratings: unknown, usage: Usage): never {
  throw llmError(LlmErrorCode.safetyBlock, `Gemini stopped the answer for safety (${raw})`, {
    category: ErrorCategory.user,
    details: {
      provider: GEMINI_PROVIDER,
      model,
      finishReason: raw,
      safetyRatings: JSON.parse(JSON.stringify(ratings ?? [])),
      usage: usageDetail(usage),
    },
  });
}

let generatedIds = 0;
function callId(id: string | undefined): string {
  if (id) return id;
  generatedIds += 1;
  return `${GENERATED_ID_PREFIX}${generatedIds}`;
}

/** Reads one whole (non-streamed) response; safety blocks and empty answers throw typed errors. */
export function readGeminiResponse(
  response: GenerateContentResponse,
  model: string,
  finishMessage?: string,
): GenerateResult {
  const usage = readUsage(response);
  checkPromptBlocked(response, model, usage);
  const candidate = response.candidates?.[0];
  if (!candidate) {
    throw llmError(LlmErrorCode.emptyResponse, "Gemini returned no candidates", {
      retryable: true,
      details: { provider: GEMINI_PROVIDER, model, usage: usageDetail(usage) },
    });
  }
  const raw = candidate.finishReason as string | undefined;
  if (raw && SAFETY_FINISH.has(raw)) safetyStop(raw, model, candidate.safetyRatings, usage);
  const parts = candidate.content?.parts ?? [];
  const collected = collectParts(parts);
  if (raw === "MALFORMED_FUNCTION_CALL")
    malformedCall(model, candidate.finishMessage || finishMessage, usage);
  if (collected.text === "" && collected.toolCalls.length === 0 && raw !== "MAX_TOKENS") {
    throw llmError(
      LlmErrorCode.emptyResponse,
      `Gemini returned a candidate with no content (finish ${raw ?? "none"})`,
      {
        retryable: true,
        details: { provider: GEMINI_PROVIDER, model, finishReason: raw ?? null, usage: usageDetail(usage) },
      },
    );
  }
  const result: GenerateResult = {
    text: collected.text,
    toolCalls: collected.toolCalls,
    finishReason: mapFinishReason(raw, collected.toolCalls.length > 0),
    usage,
    model: response.modelVersion ?? model,
    provider: GEMINI_PROVIDER,
  };
  if (raw) result.rawFinishReason = raw;
  if (collected.reasoning) result.reasoning = collected.reasoning;
  if (collected.signature) result.signature = collected.signature;
  return result;
}

function collectParts(parts: Part[]): {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
  signature?: string;
} {
  let text = "";
  let reasoning = "";
  let signature: string | undefined;
  const toolCalls: ToolCall[] = [];
  for (const part of parts) {
    if (part.functionCall) {
      const call: ToolCall = {
        id: callId(part.functionCall.id),
        name: part.functionCall.name ?? "",
        arguments: (part.functionCall.args ?? {}) as Record<string, unknown>,
      };
      if (part.thoughtSignature) call.signature = part.thoughtSignature;
      toolCalls.push(call);
    } else if (typeof part.text === "string") {
      if (part.thought) reasoning += part.text;
      else {
        text += part.text;
        if (part.thoughtSignature) signature = part.thoughtSignature;
      }
    }
  }
  return signature === undefined ? { text, reasoning, toolCalls } : { text, reasoning, toolCalls, signature };
}

/** Folds streamed chunks into deltas and, at the end, one result. */
export class GeminiStreamAccumulator {
  private text = "";
  private reasoning = "";
  private signature: string | undefined;
  private readonly toolCalls: ToolCall[] = [];
  private rawFinish: string | undefined;
  private finishMessage: string | undefined;
  private usage: Usage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0 };
  private modelVersion: string | undefined;
  private chunks = 0;

  constructor(
    private readonly model: string,
    private readonly rawFinishMessage: () => string | undefined = () => undefined,
  ) {}

  add(chunk: GenerateContentResponse): StreamPart[] {
    this.chunks += 1;
    if (chunk.usageMetadata) this.usage = readUsage(chunk);
    checkPromptBlocked(chunk, this.model, this.usage);
    if (chunk.modelVersion) this.modelVersion = chunk.modelVersion;
    const candidate = chunk.candidates?.[0];
    if (!candidate) return [];
    const raw = candidate.finishReason as string | undefined;
    if (raw && SAFETY_FINISH.has(raw)) safetyStop(raw, this.model, candidate.safetyRatings, this.usage);
    if (raw) this.rawFinish = raw;
    if (candidate.finishMessage) this.finishMessage = candidate.finishMessage;
    const parts: StreamPart[] = [];
    const collected = collectParts(candidate.content?.parts ?? []);
    if (collected.reasoning) {
      this.reasoning += collected.reasoning;
      parts.push({ type: "reasoning-delta", text: collected.reasoning });
    }
    if (collected.text) {
      this.text += collected.text;
      parts.push({ type: "text-delta", text: collected.text });
    }
    if (collected.signature) this.signature = collected.signature;
    for (const call of collected.toolCalls) {
      this.toolCalls.push(call);
      parts.push({ type: "tool-call", toolCall: call });
    }
    return parts;
  }

  finish(): GenerateResult {
    if (this.rawFinish === "MALFORMED_FUNCTION_CALL")
      malformedCall(this.model, this.finishMessage || this.rawFinishMessage(), this.usage);
    if (this.text === "" && this.toolCalls.length === 0 && this.rawFinish !== "MAX_TOKENS") {
      throw llmError(
        LlmErrorCode.emptyResponse,
        `Gemini stream ended with no content after ${this.chunks} chunks`,
        {
          retryable: true,
          details: {
            provider: GEMINI_PROVIDER,
            model: this.model,
            finishReason: this.rawFinish ?? null,
            usage: usageDetail(this.usage),
          },
        },
      );
    }
    const result: GenerateResult = {
      text: this.text,
      toolCalls: this.toolCalls,
      finishReason: mapFinishReason(this.rawFinish, this.toolCalls.length > 0),
      usage: this.usage,
      model: this.modelVersion ?? this.model,
      provider: GEMINI_PROVIDER,
    };
    if (this.rawFinish) result.rawFinishReason = this.rawFinish;
    if (this.reasoning) result.reasoning = this.reasoning;
    if (this.signature) result.signature = this.signature;
    return result;
  }
}

export interface GeminiEmbeddingOptions {
  apiKey: string;
  /** Default `gemini-embedding-001`. */
  model?: string;
  /** Requested vector length (`outputDimensionality`). Default 768. */
  dimensions?: number;
  baseUrl?: string;
  apiVersion?: string;
  retry?: RetryOptions;
  timeoutMs?: number;
  /** Gemini task type, e.g. RETRIEVAL_DOCUMENT / RETRIEVAL_QUERY / SEMANTIC_SIMILARITY. */
  taskType?: string;
}

/** Gemini's batch limit for one embedding call. */
const GEMINI_EMBED_BATCH = 100;

/** Embeddings through the SDK's `embedContent` (the Gemini API's `:batchEmbedContents`). */
export class GeminiEmbeddingModel implements EmbeddingModel {
  readonly provider = GEMINI_PROVIDER;
  readonly model: string;
  readonly dimensions: number;
  private readonly client: GoogleGenAI;

  constructor(private readonly options: GeminiEmbeddingOptions) {
    this.model = options.model ?? "gemini-embedding-001";
    this.dimensions = options.dimensions ?? 768;
    this.client = createGeminiClient(options);
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += GEMINI_EMBED_BATCH) {
      const batch = texts.slice(start, start + GEMINI_EMBED_BATCH);
      let response: Awaited<ReturnType<GoogleGenAI["models"]["embedContent"]>>;
      const call = callSignal({ signal: options.signal });
      try {
        response = await this.client.models.embedContent({
          model: this.model,
          contents: batch,
          config: {
            outputDimensionality: this.dimensions,
            ...(this.options.taskType ? { taskType: this.options.taskType } : {}),
            abortSignal: call.signal,
            httpOptions: {
              fetch: (url, init) =>
                fetchWithRetry(url, init ?? {}, {
                  provider: this.provider,
                  retry: this.options.retry,
                  timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
                  signal: call.signal,
                }),
            },
          },
        });
      } catch (error) {
        throw toLlmError(error, this.provider, call.signal);
      } finally {
        call.release();
      }
      // batchEmbedContents reports no token usage (only Vertex gives billable characters):
      // estimated, so the registry's embedding spend still shows in insitu_llm_* (issue 18).
      const billable = response.metadata?.billableCharacterCount;
      options.onUsage?.({
        inputTokens:
          typeof billable === "number" && billable > 0
            ? Math.ceil(billable / EMBEDDING_CHARS_PER_TOKEN)
            : estimateEmbeddingTokens(batch),
        outputTokens: 0,
        cachedTokens: 0,
      });
      const embeddings = response.embeddings ?? [];
      if (embeddings.length !== batch.length) {
        throw llmError(
          LlmErrorCode.badResponse,
          `Gemini returned ${embeddings.length} embeddings for ${batch.length} texts`,
          { details: { provider: GEMINI_PROVIDER, model: this.model } },
        );
      }
      for (const embedding of embeddings) {
        const values = embedding.values;
        if (!Array.isArray(values) || values.length !== this.dimensions) {
          throw llmError(
            LlmErrorCode.badResponse,
            `Gemini returned a vector of length ${values?.length ?? 0}, expected ${this.dimensions}`,
            { details: { provider: GEMINI_PROVIDER, model: this.model } },
          );
        }
        vectors.push(values);
      }
    }
    return vectors;
  }
}
