import { ErrorCategory, ErrorCode, InsituError, type JsonValue } from "@insitu/errors";

/** Error codes of the LLM layer. Callers switch on these. */
export const LlmErrorCode = {
  /** The provider refused the prompt or stopped the answer for safety. Not retryable. */
  safetyBlock: "LLM_SAFETY_BLOCK",
  /** The provider answered with no candidate / no content. */
  emptyResponse: "LLM_EMPTY_RESPONSE",
  /** 429 after every retry. */
  rateLimited: "LLM_RATE_LIMITED",
  /** 5xx / connection failures after every retry. */
  unavailable: "LLM_UNAVAILABLE",
  /** A single attempt passed its deadline (after every retry). */
  timeout: "LLM_TIMEOUT",
  /** The caller's signal aborted the call. */
  aborted: "LLM_ABORTED",
  /** The provider answered something we cannot read (malformed JSON, unknown shape). */
  badResponse: "LLM_BAD_RESPONSE",
  /** The provider refused the request (400/404/422 …): our request or config is wrong. */
  badRequest: "LLM_BAD_REQUEST",
  /** 401/403: the API key is missing or wrong. */
  authFailed: "LLM_AUTH_FAILED",
  /** Structured output failed validation after every repair attempt. */
  invalidOutput: "LLM_INVALID_OUTPUT",
  /** No model is configured for a role (message says exactly what to set). */
  notConfigured: "LLM_NOT_CONFIGURED",
  /** The replay model has no recorded answer for a request. */
  cassetteMiss: "LLM_CASSETTE_MISS",
  /** The scripted model ran out of answers or its script threw. */
  scriptExhausted: "LLM_SCRIPT_EXHAUSTED",
  /** The scripted model's next step expects a different request. */
  scriptMismatch: "LLM_SCRIPT_MISMATCH",
  /** Budget for a task ran out (shared code with the rest of insitu). */
  budgetExceeded: ErrorCode.budgetExceeded,
} as const;
export type LlmErrorCode = (typeof LlmErrorCode)[keyof typeof LlmErrorCode];

export function llmError(
  code: LlmErrorCode,
  message: string,
  options: {
    category?: ErrorCategory;
    retryable?: boolean;
    details?: Record<string, JsonValue | undefined>;
    cause?: unknown;
  } = {},
): InsituError {
  const details: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(options.details ?? {}))
    if (value !== undefined) details[key] = value;
  return new InsituError(message, {
    code,
    category: options.category ?? ErrorCategory.thirdParty,
    retryable: options.retryable ?? false,
    details,
    cause: options.cause,
  });
}

/**
 * Classifies an HTTP status from a provider. Retryable: 408, 429, 5xx (the caller's retry loop
 * decides whether attempts remain).
 */
export function errorForStatus(
  status: number,
  message: string,
  details: Record<string, JsonValue | undefined> = {},
  cause?: unknown,
): InsituError {
  const withStatus = { ...details, status };
  if (status === 429) {
    return llmError(LlmErrorCode.rateLimited, `rate limited by provider: ${message}`, {
      retryable: true,
      details: withStatus,
      cause,
    });
  }
  if (status === 408) {
    return llmError(LlmErrorCode.timeout, `provider timed out: ${message}`, {
      retryable: true,
      details: withStatus,
      cause,
    });
  }
  if (status >= 500) {
    return llmError(LlmErrorCode.unavailable, `provider unavailable (${status}): ${message}`, {
      retryable: true,
      details: withStatus,
      cause,
    });
  }
  if (status === 401 || status === 403) {
    return llmError(LlmErrorCode.authFailed, `provider refused the credentials (${status}): ${message}`, {
      category: ErrorCategory.user,
      details: withStatus,
      cause,
    });
  }
  return llmError(LlmErrorCode.badRequest, `provider refused the request (${status}): ${message}`, {
    category: ErrorCategory.system,
    details: withStatus,
    cause,
  });
}
