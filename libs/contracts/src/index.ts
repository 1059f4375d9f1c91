export {
  defineEndpoint,
  defineEvent,
  defineMessage,
  defineWorkQueue,
  registry as contractRegistry,
} from "./define.js";
export type {
  AnyContract,
  EndpointContract,
  EventContract,
  MessageContract,
  Payload,
  PayloadInput,
  Reply,
  ReplyInput,
  WorkQueueContract,
} from "./define.js";
export { ContentHash, EnvelopeSchema, TaskId, ToolName } from "./envelope.js";
export type { Envelope } from "./envelope.js";
export * from "./system.js";
export * from "./sandbox.js";
export * from "./registry.js";
export * from "./library-transfer.js";
export * from "./tool-binding.js";
export * from "./task.js";
export * from "./evolver.js";
export * from "./batch.js";
export * from "./files.js";
export * from "./eval.js";
export { contractsJsonSchema } from "./json-schema.js";
export * from "./mcp.js";
export * from "./attestation.js";
export { MAX_MESSAGE_DEPTH, MAX_TOOL_OUTPUT_DEPTH, TOOL_OUTPUT_DEPTH_HEADROOM } from "./limits.js";
export * from "./grants.js";
