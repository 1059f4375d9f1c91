export { ErrorCategory, InsituError, isInsituError, toJsonSafe } from "./insitu-error.js";
export type { InsituErrorOptions, JsonValue, SerializedError } from "./insitu-error.js";
export { ErrorCode, conflict, invalidMessage, notFound } from "./codes.js";
