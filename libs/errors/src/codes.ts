import { ErrorCategory, InsituError, type JsonValue } from "./insitu-error.js";

/**
 * Error codes shared across packages. A package may define its own codes too; these are the ones
 * more than one package must agree on.
 */
export const ErrorCode = {
  /** A bus payload failed its schema. */
  invalidMessage: "INVALID_MESSAGE",
  /** A payload exceeded the size limit before parsing. */
  messageTooLarge: "MESSAGE_TOO_LARGE",
  /** A payload nested deeper than allowed. */
  messageTooDeep: "MESSAGE_TOO_DEEP",
  /** A payload carried a major version this build does not understand. */
  unsupportedVersion: "UNSUPPORTED_VERSION",
  /** Bytes that are not JSON. */
  malformedJson: "MALFORMED_JSON",
  notFound: "NOT_FOUND",
  conflict: "CONFLICT",
  timeout: "TIMEOUT",
  unavailable: "UNAVAILABLE",
  budgetExceeded: "BUDGET_EXCEEDED",
  invalidConfig: "INVALID_CONFIG",
  internal: "INTERNAL",
  /** The bus refused this client's credentials (none, unknown user, wrong password). */
  busUnauthorized: "BUS_UNAUTHORIZED",
  /** The bus refused a publish or subscribe this client's user is not permitted (docs/adr/0120). */
  busForbidden: "BUS_FORBIDDEN",
  /**
   * A tool's code does not hash to the `codeHash` it was named by (docs/adr/0160): the registry
   * refuses to serve it, the sandbox refuses to run it.
   */
  toolCodeHashMismatch: "TOOL_CODE_HASH_MISMATCH",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function invalidMessage(message: string, details: Record<string, JsonValue> = {}): InsituError {
  return new InsituError(message, { code: ErrorCode.invalidMessage, category: ErrorCategory.user, details });
}

export function notFound(what: string, details: Record<string, JsonValue> = {}): InsituError {
  return new InsituError(`${what} not found`, {
    code: ErrorCode.notFound,
    category: ErrorCategory.user,
    details,
  });
}

export function conflict(message: string, details: Record<string, JsonValue> = {}): InsituError {
  return new InsituError(message, {
    code: ErrorCode.conflict,
    category: ErrorCategory.system,
    retryable: true,
    details,
  });
}
