import { ErrorCategory, InsituError } from "@insitu/errors";
import { z } from "zod";
import { usageDetail, withUsage } from "./attempt-usage.js";
import { deadlineExceededError } from "./deadline.js";
import { LlmErrorCode, llmError } from "./errors.js";
import { type RateLimitGate, type RetryOptions, describe, fetchWithRetry, toLlmError } from "./http-retry.js";
import {
  type EmbedOptions,
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

export const OPENAI_COMPATIBLE_PROVIDER = "openai-compatible";
/** Response bodies above this are refused before parsing. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface OpenAiCompatibleOptions {
  /** e.g. `http://127.0.0.1:11434/v1` (Ollama), `http://localhost:8000/v1` (vLLM), `https://openrouter.ai/api/v1`. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer …` when present (local servers often need none). */
  apiKey?: string;
  /** Extra headers (e.g. OpenRouter's `HTTP-Referer`). */
  headers?: Record<string, string>;
  retry?: RetryOptions;
  timeoutMs?: number;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Shared rate-limit cooldowns (default: process-wide). */
  gate?: RateLimitGate;
  /** Send `strict: true` with JSON Schema output (OpenAI proper supports it; many local servers ignore it). */
  strictSchemas?: boolean;
  fetch?: typeof fetch;
}

// Lenient readers: only the fields we use, anything else passes.
const usageSchema = z
  .object({
    prompt_tokens: z.number().nullish(),
    completion_tokens: z.number().nullish(),
    prompt_tokens_details: z.object({ cached_tokens: z.number().nullish() }).loose().nullish(),
    completion_tokens_details: z.object({ reasoning_tokens: z.number().nullish() }).loose().nullish(),
  })
  .loose();
const toolCallSchema = z
  .object({
    id: z.string().nullish(),
    type: z.string().nullish(),
    function: z.object({ name: z.string(), arguments: z.string().nullish() }).loose(),
  })
  .loose();
const completionSchema = z
  .object({
    model: z.string().nullish(),
    choices: z
      .array(
        z
          .object({
            message: z
              .object({
                content: z.string().nullish(),
                reasoning_content: z.string().nullish(),
                reasoning: z.string().nullish(),
                refusal: z.string().nullish(),
                tool_calls: z.array(toolCallSchema).nullish(),
              })
              .loose(),
            finish_reason: z.string().nullish(),
          })
          .loose(),
      )
      .nullish(),
    usage: usageSchema.nullish(),
  })
  .loose();
const chunkSchema = z
  .object({
    model: z.string().nullish(),
    choices: z
      .array(
        z
          .object({
            delta: z
              .object({
                content: z.string().nullish(),
                reasoning_content: z.string().nullish(),
                reasoning: z.string().nullish(),
                tool_calls: z
                  .array(
                    z
                      .object({
                        index: z.number().nullish(),
                        id: z.string().nullish(),
                        function: z
                          .object({ name: z.string().nullish(), arguments: z.string().nullish() })
                          .loose()
                          .nullish(),
                      })
                      .loose(),
                  )
                  .nullish(),
              })
              .loose()
              .nullish(),
            finish_reason: z.string().nullish(),
          })
          .loose(),
      )
      .nullish(),
    usage: usageSchema.nullish(),
    error: z.unknown().optional(),
  })
  .loose();
const embeddingsSchema = z
  .object({
    data: z.array(z.object({ index: z.number().nullish(), embedding: z.array(z.number()) }).loose()),
    usage: z.object({ prompt_tokens: z.number().nullish() }).loose().nullish(),
  })
  .loose();

/**
 * Any server speaking OpenAI chat completions (vLLM, Ollama, llama.cpp server, OpenRouter,
 * OpenAI itself) over plain fetch, with the shared retry policy and typed errors.
 */
export class OpenAiCompatibleModel implements LanguageModel {
  readonly provider = OPENAI_COMPATIBLE_PROVIDER;
  readonly model: string;

  constructor(private readonly options: OpenAiCompatibleOptions) {
    this.model = options.model;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const response = await this.post(request, false);
    const text = await readText(response, this.provider, request.signal);
    const json = parseJsonBody(text, this.provider);
    const parsed = completionSchema.safeParse(json);
    if (!parsed.success) throw badShape(this.provider, parsed.error.message);
    const choice = parsed.data.choices?.[0];
    if (!choice) {
      throw llmError(LlmErrorCode.emptyResponse, `${this.model} returned no choices`, {
        retryable: true,
        details: { provider: this.provider, model: this.model },
      });
    }
    const message = choice.message;
    const usage = readUsage(parsed.data.usage);
    const toolCalls = (message.tool_calls ?? []).map((call, index) =>
      readToolCall(
        call.id ?? `call_${index}`,
        call.function.name,
        call.function.arguments ?? "",
        this.provider,
      ),
    );
    const content = message.content ?? "";
    try {
      checkRefusal(
        choice.finish_reason,
        content,
        toolCalls.length,
        message.refusal,
        this.provider,
        this.model,
      );
    } catch (error) {
      // The refused answer was still served and billed.
      throw error instanceof InsituError ? withUsage(error, usage) : error;
    }
    if (content === "" && toolCalls.length === 0 && choice.finish_reason !== "length") {
      throw llmError(LlmErrorCode.emptyResponse, `${this.model} returned an empty message`, {
        retryable: true,
        details: {
          provider: this.provider,
          model: this.model,
          finishReason: choice.finish_reason ?? null,
          usage: usageDetail(usage),
        },
      });
    }
    const result: GenerateResult = {
      text: content,
      toolCalls,
      finishReason: mapFinishReason(choice.finish_reason, toolCalls.length > 0),
      usage,
      model: parsed.data.model ?? this.model,
      provider: this.provider,
    };
    if (choice.finish_reason) result.rawFinishReason = choice.finish_reason;
    const reasoning = message.reasoning_content ?? message.reasoning;
    if (reasoning) result.reasoning = reasoning;
    return result;
  }

  async *stream(request: GenerateRequest): AsyncIterable<StreamPart> {
    const response = await this.post(request, true);
    let text = "";
    let reasoning = "";
    let finish: string | undefined;
    let usage: Usage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0 };
    let model: string | undefined;
    const pending = new Map<number, { id: string; name: string; arguments: string }>();
    try {
      for await (const data of readSse(response)) {
        if (data === "[DONE]") break;
        const chunk = chunkSchema.safeParse(parseJsonBody(data, this.provider));
        if (!chunk.success) throw badShape(this.provider, chunk.error.message);
        if (chunk.data.error !== undefined) {
          throw llmError(
            LlmErrorCode.unavailable,
            `${this.provider} stream error: ${JSON.stringify(chunk.data.error)}`,
            {
              retryable: true,
              details: { provider: this.provider, model: this.model },
            },
          );
        }
        if (chunk.data.model) model = chunk.data.model;
        if (chunk.data.usage) usage = readUsage(chunk.data.usage);
        for (const choice of chunk.data.choices ?? []) {
          const delta = choice.delta;
          const reasoningDelta = delta?.reasoning_content ?? delta?.reasoning;
          if (reasoningDelta) {
            reasoning += reasoningDelta;
            yield { type: "reasoning-delta", text: reasoningDelta };
          }
          if (delta?.content) {
            text += delta.content;
            yield { type: "text-delta", text: delta.content };
          }
          for (const call of delta?.tool_calls ?? []) {
            const index = call.index ?? 0;
            const entry = pending.get(index) ?? { id: "", name: "", arguments: "" };
            if (call.id) entry.id = call.id;
            if (call.function?.name) entry.name += call.function.name;
            if (call.function?.arguments) entry.arguments += call.function.arguments;
            pending.set(index, entry);
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
    } catch (error) {
      throw toLlmError(error, this.provider, request.signal);
    }
    const toolCalls: ToolCall[] = [];
    for (const [index, entry] of [...pending.entries()].sort((a, b) => a[0] - b[0])) {
      const call = readToolCall(entry.id || `call_${index}`, entry.name, entry.arguments, this.provider);
      toolCalls.push(call);
      yield { type: "tool-call", toolCall: call };
    }
    checkRefusal(finish, text, toolCalls.length, undefined, this.provider, this.model);
    if (text === "" && toolCalls.length === 0 && finish !== "length") {
      throw llmError(LlmErrorCode.emptyResponse, `${this.model} stream ended with no content`, {
        retryable: true,
        details: { provider: this.provider, model: this.model, finishReason: finish ?? null },
      });
    }
    const result: GenerateResult = {
      text,
      toolCalls,
      finishReason: mapFinishReason(finish, toolCalls.length > 0),
      usage,
      model: model ?? this.model,
      provider: this.provider,
    };
    if (finish) result.rawFinishReason = finish;
    if (reasoning) result.reasoning = reasoning;
    yield { type: "finish", result };
  }

  private post(request: GenerateRequest, stream: boolean): Promise<Response> {
    const body = toChatCompletionBody(this.model, request, {
      stream,
      strictSchemas: this.options.strictSchemas,
    });
    return fetchWithRetry(
      joinUrl(this.options.baseUrl, "chat/completions"),
      { method: "POST", headers: headersFor(this.options, stream), body: JSON.stringify(body) },
      {
        provider: this.provider,
        retry: this.options.retry,
        timeoutMs: request.timeoutMs ?? this.options.timeoutMs,
        signal: request.signal,
        onRetry: this.options.onRetry,
        fetch: this.options.fetch,
        ...(request.deadline !== undefined
          ? { deadline: request.deadline, deadlineError: () => deadlineExceededError(request) }
          : {}),
        ...(this.options.gate ? { gate: this.options.gate } : {}),
        gateKey: `${this.provider}/${this.model}`,
      },
    );
  }
}

/** The chat-completions request body for our request (exported for tests and cassettes). */
export function toChatCompletionBody(
  model: string,
  request: GenerateRequest,
  options: { stream?: boolean; strictSchemas?: boolean } = {},
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model,
    messages: toOpenAiMessages(request.system, request.messages),
  };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.maxOutputTokens !== undefined) body.max_tokens = request.maxOutputTokens;
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: "function",
      function: { name: tool.name, description: tool.description, parameters: tool.parameters },
    }));
    const choice = request.toolChoice ?? "auto";
    body.tool_choice =
      typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
  }
  if (request.responseSchema) {
    body.response_format = {
      type: "json_schema",
      json_schema: {
        name: request.responseSchemaName ?? "response",
        schema: request.responseSchema,
        strict: options.strictSchemas ?? false,
      },
    };
  }
  if (request.thinking?.level)
    body.reasoning_effort = request.thinking.level === "minimal" ? "low" : request.thinking.level;
  if (options.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

export function toOpenAiMessages(system: string | undefined, messages: Message[]): Record<string, unknown>[] {
  const result: Record<string, unknown>[] = [];
  if (system) result.push({ role: "system", content: system });
  for (const message of messages) {
    if (message.role === "user") result.push({ role: "user", content: toOpenAiUserContent(message) });
    else if (message.role === "model") {
      const entry: Record<string, unknown> = { role: "assistant", content: message.content ?? null };
      if (message.toolCalls && message.toolCalls.length > 0) {
        entry.tool_calls = message.toolCalls.map((call) => ({
          id: call.id,
          type: "function",
          function: { name: call.name, arguments: JSON.stringify(call.arguments) },
        }));
      }
      result.push(entry);
    } else {
      for (const toolResult of message.results) {
        const output =
          typeof toolResult.output === "string" ? toolResult.output : JSON.stringify(toolResult.output);
        result.push({
          role: "tool",
          tool_call_id: toolResult.callId,
          content: toolResult.isError ? `ERROR: ${output}` : output,
        });
      }
    }
  }
  return result;
}

/**
 * A user turn's content: plain text, or parts when files come with it. Images travel as
 * `image_url` data URIs; other files (PDF) are not accepted by OpenAI-compatible chat servers in
 * general, so the model is told which were left out instead.
 */
function toOpenAiUserContent(message: Extract<Message, { role: "user" }>): unknown {
  const files = message.files ?? [];
  if (files.length === 0) return message.content;
  const images = files.filter((file) => file.mediaType.startsWith("image/"));
  const skipped = files.filter((file) => !file.mediaType.startsWith("image/"));
  const note =
    skipped.length > 0
      ? `\n\n(Not shown, this model takes images only: ${skipped.map((file) => `${file.name ?? "file"} (${file.mediaType})`).join(", ")}.)`
      : "";
  return [
    { type: "text", text: `${message.content}${note}` },
    ...images.map((file) => ({
      type: "image_url",
      image_url: { url: `data:${file.mediaType};base64,${file.data}` },
    })),
  ];
}

function headersFor(options: { apiKey?: string; headers?: Record<string, string> }, stream: boolean) {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: stream ? "text/event-stream" : "application/json",
    ...options.headers,
  };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  return headers;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path}`;
}

function readToolCall(id: string, name: string, rawArguments: string, provider: string): ToolCall {
  const trimmed = rawArguments.trim();
  if (trimmed === "") return { id, name, arguments: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    throw llmError(
      LlmErrorCode.badResponse,
      `tool call ${name} has malformed JSON arguments: ${describe(error)}`,
      {
        retryable: true,
        details: { provider, tool: name, arguments: trimmed.slice(0, 2000) },
      },
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw llmError(LlmErrorCode.badResponse, `tool call ${name} arguments are not a JSON object`, {
      retryable: true,
      details: { provider, tool: name, arguments: trimmed.slice(0, 2000) },
    });
  }
  return { id, name, arguments: parsed as Record<string, unknown> };
}

function checkRefusal(
  finish: string | null | undefined,
  content: string,
  toolCalls: number,
  refusal: string | null | undefined,
  provider: string,
  model: string,
): void {
  if (finish === "content_filter" || (refusal && content === "" && toolCalls === 0)) {
    throw llmError(
      LlmErrorCode.safetyBlock,
      `${model} refused or filtered the answer${refusal ? `: ${refusal}` : ""}`,
      {
        category: ErrorCategory.user,
        details: { provider, model, finishReason: finish ?? null, refusal: refusal ?? null },
      },
    );
  }
}

function mapFinishReason(raw: string | null | undefined, hasToolCalls: boolean): FinishReason {
  if (hasToolCalls || raw === "tool_calls" || raw === "function_call") return FinishReason.toolCalls;
  if (raw === undefined || raw === null || raw === "stop" || raw === "eos") return FinishReason.stop;
  if (raw === "length") return FinishReason.length;
  if (raw === "content_filter") return FinishReason.safety;
  return FinishReason.other;
}

function readUsage(usage: z.infer<typeof usageSchema> | null | undefined): Usage {
  const result: Usage = {
    inputTokens: usage?.prompt_tokens ?? 0,
    outputTokens: usage?.completion_tokens ?? 0,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
  };
  const reasoning = usage?.completion_tokens_details?.reasoning_tokens;
  if (reasoning) result.reasoningTokens = reasoning;
  return result;
}

async function readText(response: Response, provider: string, signal?: AbortSignal): Promise<string> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw toLlmError(error, provider, signal);
  }
  if (text.length > MAX_RESPONSE_BYTES) {
    throw llmError(
      LlmErrorCode.badResponse,
      `${provider} response is larger than ${MAX_RESPONSE_BYTES} bytes`,
      {
        details: { provider },
      },
    );
  }
  return text;
}

function parseJsonBody(text: string, provider: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw llmError(LlmErrorCode.badResponse, `${provider} returned malformed JSON: ${describe(error)}`, {
      retryable: true,
      details: { provider, body: text.slice(0, 500) },
    });
  }
}

function badShape(provider: string, message: string) {
  return llmError(
    LlmErrorCode.badResponse,
    `${provider} response has an unexpected shape: ${message.slice(0, 500)}`,
    {
      details: { provider },
    },
  );
}

/** Yields the `data:` payloads of a server-sent-events body. */
export async function* readSse(response: Response): AsyncIterable<string> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  let dataLines: string[] = [];
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    if (buffer.length > MAX_RESPONSE_BYTES)
      throw new Error("server-sent event larger than the response limit");
    let newline = buffer.search(/\r?\n/);
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(buffer[newline] === "\r" ? newline + 2 : newline + 1);
      if (line === "") {
        if (dataLines.length > 0) yield dataLines.join("\n");
        dataLines = [];
      } else if (line.startsWith("data:")) {
        dataLines.push(line.slice(5).replace(/^ /, ""));
      }
      newline = buffer.search(/\r?\n/);
    }
  }
  if (buffer.startsWith("data:")) dataLines.push(buffer.slice(5).replace(/^ /, ""));
  if (dataLines.length > 0) yield dataLines.join("\n");
}

export interface OpenAiEmbeddingOptions {
  baseUrl: string;
  model: string;
  /** Vector length; sent as `dimensions` when {@link sendDimensions} is true. */
  dimensions: number;
  /** Ask the server for this length (OpenAI text-embedding-3 supports it; many servers do not). Default false. */
  sendDimensions?: boolean;
  apiKey?: string;
  headers?: Record<string, string>;
  retry?: RetryOptions;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** `POST {base}/embeddings` of the OpenAI API. */
export class OpenAiCompatibleEmbeddingModel implements EmbeddingModel {
  readonly provider = OPENAI_COMPATIBLE_PROVIDER;
  readonly model: string;
  readonly dimensions: number;

  constructor(private readonly options: OpenAiEmbeddingOptions) {
    this.model = options.model;
    this.dimensions = options.dimensions;
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    if (texts.length === 0) return [];
    const body: Record<string, unknown> = { model: this.model, input: texts };
    if (this.options.sendDimensions) body.dimensions = this.dimensions;
    const response = await fetchWithRetry(
      joinUrl(this.options.baseUrl, "embeddings"),
      { method: "POST", headers: headersFor(this.options, false), body: JSON.stringify(body) },
      {
        provider: this.provider,
        retry: this.options.retry,
        timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
        signal: options.signal,
        fetch: this.options.fetch,
      },
    );
    const parsed = embeddingsSchema.safeParse(
      parseJsonBody(await readText(response, this.provider, options.signal), this.provider),
    );
    if (!parsed.success) throw badShape(this.provider, parsed.error.message);
    const promptTokens = parsed.data.usage?.prompt_tokens;
    options.onUsage?.({
      inputTokens: typeof promptTokens === "number" ? promptTokens : estimateEmbeddingTokens(texts),
      outputTokens: 0,
      cachedTokens: 0,
    });
    const data = [...parsed.data.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    if (data.length !== texts.length) {
      throw llmError(
        LlmErrorCode.badResponse,
        `${this.provider} returned ${data.length} embeddings for ${texts.length} texts`,
        {
          details: { provider: this.provider, model: this.model },
        },
      );
    }
    for (const item of data) {
      if (item.embedding.length !== this.dimensions) {
        throw llmError(
          LlmErrorCode.badResponse,
          `${this.provider} returned a vector of length ${item.embedding.length}, expected ${this.dimensions}`,
          { details: { provider: this.provider, model: this.model } },
        );
      }
    }
    return data.map((item) => item.embedding);
  }
}
