import { readJsonFile } from "@insitu/config";
import { withModelSpans } from "./traced.js";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { z } from "zod";
import { LlmErrorCode, llmError } from "./errors.js";
import { GEMINI_PROVIDER, GeminiEmbeddingModel, GeminiModel } from "./gemini.js";
import type { RateLimitGate, RetryOptions } from "./http-retry.js";
import {
  OPENAI_COMPATIBLE_PROVIDER,
  OpenAiCompatibleEmbeddingModel,
  OpenAiCompatibleModel,
} from "./openai-compatible.js";
import type { Accountant } from "./accounting.js";
import { DEFAULT_PRICES, type ModelPrice, priceSchema } from "./prices.js";
import type { EmbeddingModel, GenerateRequest, LanguageModel } from "./types.js";

/**
 * Per-role model settings, as the original system had one block per role. A JSON file
 * (`insitu.models.json` by default) holds a `default` block and optional blocks per role; a
 * role's settings are built-in defaults ← `default` ← the role's block. Secrets never live in
 * the file: a block names the environment variable that holds its key (`apiKeyEnv`).
 */
export const ModelRole = {
  manager: "manager",
  toolDeveloper: "tool-developer",
  executor: "executor",
  integrator: "integrator",
  evolver: "evolver",
  summarizer: "summarizer",
  /** Scores answers in `insitu eval` (not part of the agent loop). */
  judge: "judge",
  embedding: "embedding",
} as const;
export type ModelRole = (typeof ModelRole)[keyof typeof ModelRole];
export const MODEL_ROLES = Object.values(ModelRole);

export const ProviderName = {
  gemini: GEMINI_PROVIDER,
  openaiCompatible: OPENAI_COMPATIBLE_PROVIDER,
  scripted: "scripted",
} as const;
export type ProviderName = (typeof ProviderName)[keyof typeof ProviderName];

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

export const modelSettingsSchema = z
  .object({
    provider: z.enum(["gemini", "openai-compatible", "scripted"]).optional(),
    /** Model id, e.g. `gemini-3-pro-preview`, `qwen3:32b`. */
    model: z.string().min(1).optional(),
    /** Provider endpoint; for OpenAI-compatible servers the `/v1` base. */
    baseUrl: z.url().optional(),
    /** Name of the environment variable holding the API key (never the key itself). */
    apiKeyEnv: envName.optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxOutputTokens: z.number().int().positive().optional(),
    /** Per-attempt deadline. */
    timeoutMs: z.number().int().positive().optional(),
    /** The model's context window; the executor summarizes before reaching it. */
    contextTokens: z.number().int().positive().optional(),
    thinking: z
      .object({
        level: z.enum(["minimal", "low", "medium", "high"]).optional(),
        budgetTokens: z.number().int().optional(),
        includeThoughts: z.boolean().optional(),
      })
      .strict()
      .optional(),
    retry: z
      .object({
        maxAttempts: z.number().int().min(1).max(20).optional(),
        initialDelayMs: z.number().int().nonnegative().optional(),
        maxDelayMs: z.number().int().nonnegative().optional(),
        /** Total time of one call, every attempt and wait included. */
        maxTotalMs: z.number().int().positive().optional(),
        /** Longest Retry-After honoured; beyond it the call fails at once. */
        maxRetryAfterMs: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
    /** Embedding vector length (embedding role). */
    dimensions: z.number().int().positive().optional(),
    /** Prices for this block's model (override the built-in table). */
    prices: priceSchema.optional(),
  })
  .strict();
export type ModelSettings = z.infer<typeof modelSettingsSchema>;

export const modelsConfigSchema = z
  .object({
    $schema: z.string().optional(),
    $comment: z.string().optional(),
    default: modelSettingsSchema.optional(),
    manager: modelSettingsSchema.optional(),
    "tool-developer": modelSettingsSchema.optional(),
    executor: modelSettingsSchema.optional(),
    integrator: modelSettingsSchema.optional(),
    evolver: modelSettingsSchema.optional(),
    summarizer: modelSettingsSchema.optional(),
    judge: modelSettingsSchema.optional(),
    embedding: modelSettingsSchema.optional(),
    /** Prices by model id, USD per million tokens (merged over the built-in table). */
    prices: z.record(z.string(), priceSchema).optional(),
  })
  .strict();
export type ModelsConfig = z.infer<typeof modelsConfigSchema>;

/** Environment variables the defaults read. */
export const ModelEnv = {
  geminiApiKey: "GEMINI_API_KEY",
  openAiBaseUrl: "INSITU_OPENAI_BASE_URL",
  openAiModel: "INSITU_OPENAI_MODEL",
  openAiApiKey: "INSITU_OPENAI_API_KEY",
  openAiEmbeddingModel: "INSITU_OPENAI_EMBEDDING_MODEL",
  configPath: "INSITU_MODELS_CONFIG",
} as const;

const GEMINI_REASONING_MODEL = "gemini-3-pro-preview";
const GEMINI_FAST_MODEL = "gemini-3-flash-preview";
const GEMINI_EMBEDDING_MODEL = "gemini-embedding-001";

/** Settings after merging, with the provider decided. */
export interface ResolvedModelSettings extends ModelSettings {
  role: ModelRole;
  provider: ProviderName;
  model: string;
  prices?: ModelPrice;
}

export type Env = Record<string, string | undefined>;

/** Built-in defaults for a role once the provider is known. */
function builtInDefaults(provider: ProviderName, role: ModelRole, env: Env): ModelSettings {
  if (provider === "gemini") {
    if (role === "embedding")
      return { model: GEMINI_EMBEDDING_MODEL, apiKeyEnv: ModelEnv.geminiApiKey, dimensions: 768 };
    const fast = role === "summarizer";
    return {
      model: fast ? GEMINI_FAST_MODEL : GEMINI_REASONING_MODEL,
      apiKeyEnv: ModelEnv.geminiApiKey,
      temperature: 1,
      maxOutputTokens: fast ? 8192 : 32_768,
      timeoutMs: fast ? 120_000 : 300_000,
      contextTokens: 1_000_000,
    };
  }
  if (provider === "openai-compatible") {
    const base: ModelSettings = {
      apiKeyEnv: ModelEnv.openAiApiKey,
      timeoutMs: 300_000,
      contextTokens: 32_768,
    };
    const baseUrl = env[ModelEnv.openAiBaseUrl];
    if (baseUrl) base.baseUrl = baseUrl;
    const model = role === "embedding" ? env[ModelEnv.openAiEmbeddingModel] : env[ModelEnv.openAiModel];
    if (model) base.model = model;
    return base;
  }
  return { model: `scripted-${role}` };
}

/**
 * Decides a role's settings: file blocks win over environment auto-detection. With no provider
 * in the file, `GEMINI_API_KEY` selects Gemini and `INSITU_OPENAI_BASE_URL` an OpenAI-compatible
 * server; with neither, throws LLM_NOT_CONFIGURED saying exactly what to set.
 */
export function resolveRoleSettings(
  config: ModelsConfig,
  role: ModelRole,
  env: Env = process.env,
): ResolvedModelSettings {
  const fromFile: ModelSettings = { ...config.default, ...config[role] };
  const provider: ProviderName | undefined =
    fromFile.provider ??
    (env[ModelEnv.geminiApiKey] ? "gemini" : env[ModelEnv.openAiBaseUrl] ? "openai-compatible" : undefined);
  if (!provider) throw notConfiguredError(role);
  const merged: ModelSettings = { ...builtInDefaults(provider, role, env), ...fromFile, provider };
  if (!merged.model) {
    throw llmError(
      LlmErrorCode.notConfigured,
      `No model is named for role "${role}" (provider ${provider}). Set ${
        role === "embedding" ? ModelEnv.openAiEmbeddingModel : ModelEnv.openAiModel
      } (e.g. "qwen3:32b"), or set "model" in the "${role}" or "default" block of insitu.models.json.`,
      { category: ErrorCategory.user, details: { role, provider } },
    );
  }
  if (provider === "openai-compatible" && !merged.baseUrl) {
    throw llmError(
      LlmErrorCode.notConfigured,
      `Role "${role}" uses an OpenAI-compatible server but no base URL is set. Set ${ModelEnv.openAiBaseUrl} (e.g. http://127.0.0.1:11434/v1 for Ollama) or "baseUrl" in insitu.models.json.`,
      { category: ErrorCategory.user, details: { role, provider } },
    );
  }
  const prices = merged.prices ?? config.prices?.[merged.model] ?? DEFAULT_PRICES[merged.model];
  const resolved: ResolvedModelSettings = { ...merged, role, provider, model: merged.model };
  if (prices) resolved.prices = prices;
  return resolved;
}

/** The error raised when no model is configured at all; its message is the instruction. */
export function notConfiguredError(role: ModelRole | string): InsituError {
  return llmError(
    LlmErrorCode.notConfigured,
    [
      `No language model is configured (needed by role "${role}"). Do one of:`,
      `  • Gemini (default): export ${ModelEnv.geminiApiKey}=<your key from https://aistudio.google.com/apikey>`,
      `  • An OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenRouter): export ${ModelEnv.openAiBaseUrl}=http://127.0.0.1:11434/v1 and ${ModelEnv.openAiModel}=<model>, plus ${ModelEnv.openAiApiKey}=<key> if the server needs one`,
      "  • Or describe each role in insitu.models.json (provider, model, baseUrl, apiKeyEnv).",
      "To watch insitu work without any model, run `insitu demo` (scripted answers).",
    ].join("\n"),
    { category: ErrorCategory.user, details: { role } },
  );
}

function apiKeyFor(settings: ResolvedModelSettings, env: Env, required: boolean): string | undefined {
  if (!settings.apiKeyEnv) return undefined;
  const value = env[settings.apiKeyEnv];
  if (!value && required) {
    throw llmError(
      LlmErrorCode.notConfigured,
      `Role "${settings.role}" uses ${settings.provider} model ${settings.model} with its API key read from ${settings.apiKeyEnv}, which is not set. Set it: export ${settings.apiKeyEnv}=<key>`,
      { category: ErrorCategory.user, details: { role: settings.role, apiKeyEnv: settings.apiKeyEnv } },
    );
  }
  return value || undefined;
}

export interface CreateModelOptions {
  /** The model to use when a role's provider is `scripted` (tests, demos). */
  scripted?: LanguageModel | ((role: ModelRole) => LanguageModel);
  scriptedEmbedding?: EmbeddingModel;
  /** Overrides the configured retry policy (tests use short delays). */
  retry?: RetryOptions;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Shared rate-limit cooldowns (a role's replicas share one through the bus; default per process). */
  gate?: RateLimitGate;
  /** When given, the model is wrapped for accounting and budgets under this role with its resolved prices. */
  accountant?: Accountant;
}

function retryFor(settings: ResolvedModelSettings, options: CreateModelOptions): RetryOptions | undefined {
  if (!settings.retry && !options.retry) return undefined;
  return { ...settings.retry, ...options.retry };
}

/**
 * The model for a role, with the role's sampling, deadline and thinking settings applied as
 * request defaults (a request's own values win).
 */
export function createModelForRole(
  config: ModelsConfig,
  role: Exclude<ModelRole, "embedding">,
  env: Env = process.env,
  options: CreateModelOptions = {},
): LanguageModel {
  const settings = resolveRoleSettings(config, role, env);
  let model: LanguageModel;
  const retry = retryFor(settings, options);
  if (settings.provider === "gemini") {
    model = new GeminiModel({
      apiKey: apiKeyFor(settings, env, true) ?? "",
      model: settings.model,
      ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
      ...(retry ? { retry } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.gate ? { gate: options.gate } : {}),
    });
  } else if (settings.provider === "openai-compatible") {
    const apiKey = apiKeyFor(settings, env, false);
    model = new OpenAiCompatibleModel({
      baseUrl: settings.baseUrl ?? "",
      model: settings.model,
      ...(apiKey ? { apiKey } : {}),
      ...(retry ? { retry } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.gate ? { gate: options.gate } : {}),
    });
  } else {
    const scripted = typeof options.scripted === "function" ? options.scripted(role) : options.scripted;
    if (!scripted) {
      throw llmError(
        LlmErrorCode.notConfigured,
        `Role "${role}" is configured with the scripted provider, but no script was given (scripted models are for tests and demos).`,
        { category: ErrorCategory.user, details: { role } },
      );
    }
    model = scripted;
  }
  const configured = withModelSpans(withRequestDefaults(model, settings), role);
  return options.accountant
    ? options.accountant.wrap(configured, { role, ...(settings.prices ? { prices: settings.prices } : {}) })
    : configured;
}

/** Applies settings as defaults of every request. */
export function withRequestDefaults(model: LanguageModel, settings: ModelSettings): LanguageModel {
  const apply = (request: GenerateRequest): GenerateRequest => {
    const merged: GenerateRequest = { ...request };
    if (merged.temperature === undefined && settings.temperature !== undefined)
      merged.temperature = settings.temperature;
    if (merged.maxOutputTokens === undefined && settings.maxOutputTokens !== undefined) {
      merged.maxOutputTokens = settings.maxOutputTokens;
    }
    if (merged.timeoutMs === undefined && settings.timeoutMs !== undefined)
      merged.timeoutMs = settings.timeoutMs;
    if (merged.thinking === undefined && settings.thinking !== undefined) merged.thinking = settings.thinking;
    return merged;
  };
  return {
    provider: model.provider,
    model: model.model,
    generate: (request) => model.generate(apply(request)),
    stream: (request) => model.stream(apply(request)),
  };
}

/** The embedding model from the `embedding` block (Gemini or OpenAI-compatible). */
export function createEmbeddingModelForRole(
  config: ModelsConfig,
  env: Env = process.env,
  options: CreateModelOptions = {},
): EmbeddingModel {
  const settings = resolveRoleSettings(config, "embedding", env);
  const retry = retryFor(settings, options);
  if (settings.provider === "gemini") {
    return new GeminiEmbeddingModel({
      apiKey: apiKeyFor(settings, env, true) ?? "",
      model: settings.model,
      dimensions: settings.dimensions ?? 768,
      ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
      ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}),
      ...(retry ? { retry } : {}),
    });
  }
  if (settings.provider === "openai-compatible") {
    if (!settings.dimensions) {
      throw llmError(
        LlmErrorCode.notConfigured,
        `The embedding role uses ${settings.model} on an OpenAI-compatible server; set "dimensions" in the "embedding" block of insitu.models.json (e.g. 768 for nomic-embed-text).`,
        { category: ErrorCategory.user, details: { role: "embedding" } },
      );
    }
    const apiKey = apiKeyFor(settings, env, false);
    return new OpenAiCompatibleEmbeddingModel({
      baseUrl: settings.baseUrl ?? "",
      model: settings.model,
      dimensions: settings.dimensions,
      ...(apiKey ? { apiKey } : {}),
      ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}),
      ...(retry ? { retry } : {}),
    });
  }
  if (!options.scriptedEmbedding) {
    throw llmError(
      LlmErrorCode.notConfigured,
      "The embedding role is scripted, but no scripted embedding model was given.",
      {
        category: ErrorCategory.user,
        details: { role: "embedding" },
      },
    );
  }
  return options.scriptedEmbedding;
}

/** Largest config file read. */
const MAX_CONFIG_BYTES = 256 * 1024;

/** Validates a config object; the error lists every bad field with its path. */
export function parseModelsConfig(value: unknown, source = "models config"): ModelsConfig {
  const parsed = modelsConfigSchema.safeParse(value);
  if (!parsed.success) {
    throw new InsituError(
      `${source} is invalid: ${parsed.error.issues
        .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
        .join("; ")}`,
      {
        code: ErrorCode.invalidConfig,
        category: ErrorCategory.user,
        details: {
          source,
          issues: parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`),
        },
      },
    );
  }
  return parsed.data;
}

/**
 * Loads the models config: the given path, else `INSITU_MODELS_CONFIG`, else `insitu.models.json`
 * in the working directory if it exists, else an empty config (env defaults apply).
 */
export function loadModelsConfig(path?: string, env: Env = process.env, cwd = process.cwd()): ModelsConfig {
  const explicit = path ?? env[ModelEnv.configPath];
  const file = resolve(cwd, explicit ?? "insitu.models.json");
  if (!explicit && !existsSync(file)) return {};
  const json = readJsonFile(file, "models config", MAX_CONFIG_BYTES);
  return parseModelsConfig(json, file);
}
