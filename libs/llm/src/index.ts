/**
 * @insitu/llm — one model interface for every role, providers behind it (Gemini via
 * @google/genai, OpenAI-compatible HTTP), record/replay, per-role settings, accounting and
 * budgets. Fakes (scripted model, provider stand-ins) are in `@insitu/llm/testing`; a scenario file
 * (`loadScenario`) is loaded here too, because a service runs on one when INSITU_SCRIPT is set (demo).
 */
export { loadScenario } from "./scenario.js";
export type { Scenario } from "./scenario.js";
export {
  EMBEDDING_CHARS_PER_TOKEN,
  FinishReason,
  MessageRole,
  emptyUsage,
  estimateEmbeddingTokens,
  toModelMessage,
} from "./types.js";
export type {
  EmbedOptions,
  EmbeddingModel,
  GenerateRequest,
  GenerateResult,
  JsonSchema,
  JsonValue,
  LanguageModel,
  Message,
  ModelMessage,
  StreamPart,
  ThinkingSettings,
  ToolCall,
  ToolChoice,
  ToolDefinition,
  ToolResult,
  ToolResultMessage,
  Usage,
  UserMessage,
  InlineFile,
} from "./types.js";
export { LlmErrorCode, errorForStatus, llmError } from "./errors.js";
export {
  MAX_JSON_TEXT_BYTES,
  REPAIR_EXCERPT_CHARS,
  dropNulls,
  excerptForRepair,
  extractJson,
  generateObject,
  parseModelJson,
  repairPrompt,
  zodToJsonSchema,
} from "./generate-object.js";
export type {
  ExtractJsonResult,
  GenerateObjectOptions,
  GenerateObjectResult,
  ParseModelJsonResult,
} from "./generate-object.js";
export {
  MemoryRateLimitGate,
  backoffDelay,
  defaultRetryOptions,
  fetchWithRetry,
  isRetryableStatus,
  parseRetryAfter,
  processRateLimitGate,
} from "./http-retry.js";
export type { FetchWithRetryOptions, RateLimitGate, RetryOptions } from "./http-retry.js";
export { addUsageTo, sumUsage, usageDetail, usageOfError, withUsage } from "./attempt-usage.js";
export { callSignal, deadlineExceededError, withCallDeadline, withCallLimits } from "./deadline.js";
export type { CallLimits } from "./deadline.js";
export { CassetteEnv, recordForRole, replayForRole, secretValues } from "./stack-cassette.js";
export {
  GEMINI_DEFAULT_BASE_URL,
  GEMINI_PROVIDER,
  GeminiEmbeddingModel,
  GeminiModel,
} from "./gemini.js";
export type { GeminiEmbeddingOptions, GeminiOptions } from "./gemini.js";
export {
  OPENAI_COMPATIBLE_PROVIDER,
  OpenAiCompatibleEmbeddingModel,
  OpenAiCompatibleModel,
} from "./openai-compatible.js";
export type { OpenAiCompatibleOptions, OpenAiEmbeddingOptions } from "./openai-compatible.js";
export {
  Cassette,
  REPLAY_PROVIDER,
  ReplayModel,
  normalizeRequest,
  recordingModel,
  replayModel,
  requestKey,
  scrubSecrets,
  stableStringify,
} from "./cassette.js";
export type { CassetteEntry, RecordingOptions, ReplayOptions } from "./cassette.js";
export { DEFAULT_PRICES, priceSchema } from "./prices.js";
export type { ModelPrice } from "./prices.js";
export {
  MODEL_ROLES,
  ModelEnv,
  ModelRole,
  ProviderName,
  createEmbeddingModelForRole,
  createModelForRole,
  loadModelsConfig,
  modelSettingsSchema,
  modelsConfigSchema,
  notConfiguredError,
  parseModelsConfig,
  resolveRoleSettings,
  withRequestDefaults,
} from "./config.js";
export type {
  CreateModelOptions,
  Env,
  ModelSettings,
  ModelsConfig,
  ResolvedModelSettings,
} from "./config.js";
export { Accountant, BudgetKind, budgetExceededError, costOf } from "./accounting.js";
export type { AccountantOptions, CallRecord, TaskBudget, UsageTotals } from "./accounting.js";
export { withModelSpans } from "./traced.js";
export { recordRoleModel } from "@insitu/telemetry";
export type { RoleModelInfo } from "@insitu/telemetry";
