export {
  FinishReason,
  MessageRole,
  emptyUsage,
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
} from "./types.js";
export { LlmErrorCode, errorForStatus, llmError } from "./errors.js";
export {
  MAX_JSON_TEXT_BYTES,
  dropNulls,
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
