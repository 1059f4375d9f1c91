import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ErrorCategory, ErrorCode, InsituError, type SerializedError } from "@insitu/errors";
import { z } from "zod";
import { LlmErrorCode, llmError } from "./errors.js";
import type { GenerateRequest, GenerateResult, LanguageModel, StreamPart } from "./types.js";

/**
 * Record and replay. A recording wrapper around any model writes each request (normalized,
 * secrets scrubbed) and its response to a cassette keyed by a stable hash; a replay model
 * answers from the cassette deterministically and throws LLM_CASSETTE_MISS on anything it has
 * not seen. Repeated identical requests replay their recorded answers in order.
 */

export const REPLAY_PROVIDER = "replay";
const SCRUBBED = "[scrubbed]";
const SECRET_KEYS =
  /^(api[-_]?key|x-goog-api-key|authorization|proxy-authorization|password|secret|client[-_]?secret|access[-_]?token|refresh[-_]?token|id[-_]?token)$/i;
const SECRET_PATTERNS = [
  /Bearer\s+[A-Za-z0-9._~+/=-]+/g,
  /AIza[0-9A-Za-z_-]{20,}/g,
  /\bsk-[A-Za-z0-9_-]{16,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
];

/**
 * Replaces secret-looking values: values under secret-named keys, bearer tokens and well-known
 * key shapes anywhere in strings, and every extra `secrets` value (e.g. the env values in use).
 */
export function scrubSecrets<T>(value: T, secrets: string[] = []): T {
  const literal = secrets.filter((secret) => secret.length >= 6);
  const scrubString = (text: string) => {
    let result = text;
    for (const secret of literal) result = result.split(secret).join(SCRUBBED);
    for (const pattern of SECRET_PATTERNS) result = result.replace(pattern, SCRUBBED);
    return result;
  };
  const walk = (item: unknown): unknown => {
    if (typeof item === "string") return scrubString(item);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === "object") {
      const result: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(item)) {
        result[key] = SECRET_KEYS.test(key) && typeof child === "string" ? SCRUBBED : walk(child);
      }
      return result;
    }
    return item;
  };
  return walk(value) as T;
}

/** The parts of a request that decide the answer (no signal, deadline or task id). */
export function normalizeRequest(request: GenerateRequest, model: string): Record<string, unknown> {
  const normalized: Record<string, unknown> = { model, messages: request.messages };
  if (request.system !== undefined) normalized.system = request.system;
  if (request.tools !== undefined && request.tools.length > 0) normalized.tools = request.tools;
  if (request.toolChoice !== undefined) normalized.toolChoice = request.toolChoice;
  if (request.responseSchema !== undefined) normalized.responseSchema = request.responseSchema;
  if (request.responseSchemaName !== undefined) normalized.responseSchemaName = request.responseSchemaName;
  if (request.temperature !== undefined) normalized.temperature = request.temperature;
  if (request.maxOutputTokens !== undefined) normalized.maxOutputTokens = request.maxOutputTokens;
  if (request.thinking !== undefined) normalized.thinking = request.thinking;
  return JSON.parse(JSON.stringify(normalized)) as Record<string, unknown>;
}

/** JSON with object keys sorted, so equal requests serialize identically. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, child]) => child !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${stableStringify(child)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** sha256 of the scrubbed, normalized request. */
export function requestKey(request: GenerateRequest, model: string, secrets: string[] = []): string {
  return createHash("sha256")
    .update(stableStringify(scrubSecrets(normalizeRequest(request, model), secrets)))
    .digest("hex");
}

const resultSchema = z
  .object({
    text: z.string(),
    toolCalls: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        arguments: z.record(z.string(), z.unknown()),
        signature: z.string().optional(),
      }),
    ),
    finishReason: z.enum(["stop", "length", "tool-calls", "safety", "error", "other"]),
    rawFinishReason: z.string().optional(),
    usage: z.object({
      inputTokens: z.number(),
      outputTokens: z.number(),
      cachedTokens: z.number(),
      reasoningTokens: z.number().optional(),
    }),
    model: z.string(),
    provider: z.string(),
    reasoning: z.string().optional(),
    signature: z.string().optional(),
  })
  .loose();

const entrySchema = z.object({
  key: z.string(),
  request: z.record(z.string(), z.unknown()),
  result: resultSchema.optional(),
  error: z.record(z.string(), z.unknown()).optional(),
  recordedAt: z.string(),
});
export type CassetteEntry = z.infer<typeof entrySchema>;

const cassetteSchema = z.object({
  version: z.literal(1),
  entries: z.array(entrySchema),
});

export class Cassette {
  readonly entries: CassetteEntry[] = [];

  constructor(entries: CassetteEntry[] = []) {
    this.entries.push(...entries);
  }

  static load(path: string): Cassette {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (error) {
      throw new InsituError(`cannot read cassette ${path}: ${(error as Error).message}`, {
        code: ErrorCode.invalidConfig,
        category: ErrorCategory.user,
        cause: error,
      });
    }
    const parsed = cassetteSchema.safeParse(json);
    if (!parsed.success) {
      throw new InsituError(`cassette ${path} is malformed: ${parsed.error.message.slice(0, 500)}`, {
        code: ErrorCode.invalidConfig,
        category: ErrorCategory.user,
      });
    }
    return new Cassette(parsed.data.entries);
  }

  toJSON() {
    return { version: 1 as const, entries: this.entries };
  }

  /** Writes atomically (temp file + rename). */
  save(path: string): void {
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(this.toJSON(), null, 2)}\n`);
    renameSync(temporary, path);
  }
}

export interface RecordingOptions {
  /** Extra literal secrets to scrub (e.g. the API key values in use). */
  secrets?: string[];
  /** When set, the cassette is saved here after every call. */
  path?: string;
}

/** Wraps a model so every call (result or typed error) is written to `cassette`. */
export function recordingModel(
  inner: LanguageModel,
  cassette: Cassette,
  options: RecordingOptions = {},
): LanguageModel {
  const secrets = options.secrets ?? [];
  const record = (request: GenerateRequest, outcome: { result?: GenerateResult; error?: unknown }) => {
    const entry: CassetteEntry = {
      key: requestKey(request, inner.model, secrets),
      request: scrubSecrets(normalizeRequest(request, inner.model), secrets),
      recordedAt: new Date().toISOString(),
    };
    if (outcome.result) entry.result = scrubSecrets(outcome.result, secrets) as CassetteEntry["result"];
    if (outcome.error !== undefined) {
      entry.error = scrubSecrets(InsituError.from(outcome.error).toJSON(), secrets) as unknown as Record<
        string,
        unknown
      >;
    }
    cassette.entries.push(entry);
    if (options.path) cassette.save(options.path);
  };
  return {
    provider: inner.provider,
    model: inner.model,
    async generate(request) {
      try {
        const result = await inner.generate(request);
        record(request, { result });
        return result;
      } catch (error) {
        record(request, { error });
        throw error;
      }
    },
    async *stream(request) {
      try {
        for await (const part of inner.stream(request)) {
          if (part.type === "finish") record(request, { result: part.result });
          yield part;
        }
      } catch (error) {
        record(request, { error });
        throw error;
      }
    },
  };
}

export interface ReplayOptions {
  /** Must match the secrets used when recording only if they appeared in requests. */
  secrets?: string[];
  /** Model id to hash with; default: the model recorded in the first entry. */
  model?: string;
}

/** Answers from a cassette; a request it has not seen throws LLM_CASSETTE_MISS. */
export class ReplayModel implements LanguageModel {
  readonly provider = REPLAY_PROVIDER;
  readonly model: string;
  private readonly used = new Map<string, number>();

  constructor(
    private readonly cassette: Cassette,
    private readonly options: ReplayOptions = {},
  ) {
    const first = cassette.entries[0]?.request.model;
    this.model = options.model ?? (typeof first === "string" ? first : "unknown");
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const key = requestKey(request, this.model, this.options.secrets);
    const matching = this.cassette.entries.filter((entry) => entry.key === key);
    const used = this.used.get(key) ?? 0;
    const entry = matching[used];
    if (!entry) {
      const last = request.messages.at(-1);
      throw llmError(
        LlmErrorCode.cassetteMiss,
        matching.length === 0
          ? `cassette has no recorded answer for this request (key ${key.slice(0, 12)}…, last message: ${JSON.stringify(last).slice(0, 200)}); re-record the cassette`
          : `cassette recorded this request ${matching.length} time(s) but it was asked again (key ${key.slice(0, 12)}…); re-record the cassette`,
        {
          category: ErrorCategory.system,
          details: { key, recordedTimes: matching.length, entries: this.cassette.entries.length },
        },
      );
    }
    this.used.set(key, used + 1);
    if (entry.error) throw InsituError.fromJSON(entry.error as unknown as SerializedError);
    if (!entry.result) {
      throw llmError(
        LlmErrorCode.cassetteMiss,
        `cassette entry ${key.slice(0, 12)}… has neither result nor error`,
        {
          category: ErrorCategory.system,
          details: { key },
        },
      );
    }
    return structuredClone(entry.result) as GenerateResult;
  }

  async *stream(request: GenerateRequest): AsyncIterable<StreamPart> {
    const result = await this.generate(request);
    if (result.reasoning) yield { type: "reasoning-delta", text: result.reasoning };
    if (result.text) yield { type: "text-delta", text: result.text };
    for (const toolCall of result.toolCalls) yield { type: "tool-call", toolCall };
    yield { type: "finish", result };
  }
}

export function replayModel(cassette: Cassette | string, options: ReplayOptions = {}): ReplayModel {
  return new ReplayModel(typeof cassette === "string" ? Cassette.load(cassette) : cassette, options);
}
