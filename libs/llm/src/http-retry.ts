import { ErrorCategory, InsituError, type JsonValue } from "@insitu/errors";
import { LlmErrorCode, errorForStatus, llmError } from "./errors.js";

/**
 * Retry policy for provider HTTP calls. Retried: 408, 429, 5xx, connection failures and
 * per-attempt timeouts. Delays grow exponentially with full jitter; a `Retry-After` (or
 * `retry-after-ms`) header from the provider wins over the computed delay, capped by
 * {@link maxRetryAfterMs}.
 */
export interface RetryOptions {
  /** Attempts including the first; 1 disables retries. Default 4. */
  maxAttempts?: number;
  /** Delay before the first retry. Default 1000 ms. */
  initialDelayMs?: number;
  /** Cap on any computed delay. Default 30 000 ms. */
  maxDelayMs?: number;
  /** Growth per retry. Default 2. */
  multiplier?: number;
  /** 0 = exact delays, 1 = full jitter (uniform in [delay/2, delay]·…). Default 0.5. */
  jitter?: number;
  /** Longest Retry-After honoured; beyond it the call fails instead of waiting. Default 120 000 ms. */
  maxRetryAfterMs?: number;
  /**
   * Total time of one model call — every attempt and every wait, shared cooldowns included.
   * A wait that would end past it is not started: the call fails at once. Default 120 000 ms.
   */
  maxTotalMs?: number;
}

export const defaultRetryOptions: Required<RetryOptions> = {
  maxAttempts: 4,
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.5,
  maxRetryAfterMs: 120_000,
  maxTotalMs: 120_000,
};

/**
 * Cooldowns shared by every caller of one provider model: a 429's Retry-After slows all of them,
 * not only the request that got it. The default is process-wide; services pass one backed by the
 * bus so a role's replicas share it (libs/roles). Keys are `provider/model`.
 */
export interface RateLimitGate {
  /** Epoch ms before which no request for `key` may go out (undefined or past: none). */
  cooldownUntil(key: string): number | undefined | Promise<number | undefined>;
  /** Records that `key` is rate limited until `until` (epoch ms); keeps the later of two. */
  coolDown(key: string, until: number): void | Promise<void>;
}

/** An in-process gate (one per process by default — every model of a service shares it). */
export class MemoryRateLimitGate implements RateLimitGate {
  private readonly until = new Map<string, number>();
  cooldownUntil(key: string): number | undefined {
    return this.until.get(key);
  }
  coolDown(key: string, until: number): void {
    this.until.set(key, Math.max(until, this.until.get(key) ?? 0));
  }
}

export const processRateLimitGate = new MemoryRateLimitGate();

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Parses `retry-after-ms`, or `Retry-After` as seconds or an HTTP date; undefined when absent/invalid. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const milliseconds = headers.get("retry-after-ms");
  if (milliseconds !== null && /^\d+(\.\d+)?$/.test(milliseconds.trim())) return Number(milliseconds);
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Google APIs often put the wait in the error body instead of a header:
 * `{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]}}`.
 */
export function parseRetryDelayBody(body: string): number | undefined {
  if (!body.includes("retryDelay")) return undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { details?: unknown } };
    const details = Array.isArray(parsed.error?.details) ? parsed.error.details : [];
    for (const detail of details) {
      const delay = (detail as { retryDelay?: unknown } | null)?.retryDelay;
      if (typeof delay === "string") {
        const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
        if (match?.[1]) return Number(match[1]) * 1000;
      }
    }
  } catch {
    // not JSON: no delay
  }
  return undefined;
}

/** Delay before retry number `retry` (1-based), with jitter drawn from `random`. */
export function backoffDelay(retry: number, options: Required<RetryOptions>, random = Math.random): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** (retry - 1));
  const jitter = Math.min(1, Math.max(0, options.jitter));
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

export interface FetchWithRetryOptions {
  provider: string;
  retry?: RetryOptions;
  /** Per-attempt deadline (covers reading the body too). */
  timeoutMs?: number;
  /** The caller's cancellation. */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Called before each wait, for logs and tests. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /**
   * Absolute deadline of the whole call (epoch ms; the task's remaining wall time): no attempt
   * runs and no wait ends past it. On expiry the call fails with `deadlineError()` when given.
   */
  deadline?: number;
  /** Error raised when {@link deadline} is reached (e.g. the task's BUDGET_EXCEEDED). */
  deadlineError?: () => InsituError;
  /** Shared rate-limit cooldowns; default {@link processRateLimitGate}. */
  gate?: RateLimitGate;
  /** Gate key, `provider/model`; without it no cooldown is shared. */
  gateKey?: string;
  /** Clock (tests). */
  now?: () => number;
}

/** Largest error body read for a message. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * `fetch` with the retry policy above and typed failures: every non-2xx answer that is final
 * becomes an InsituError (LLM_RATE_LIMITED, LLM_UNAVAILABLE, LLM_TIMEOUT, LLM_BAD_REQUEST,
 * LLM_AUTH_FAILED) carrying status, attempts and the provider's message; a caller abort
 * becomes LLM_ABORTED. A 2xx response is returned with its attempt deadline still armed, so a
 * stalled body also ends in LLM_TIMEOUT.
 */
export async function fetchWithRetry(
  url: string | URL,
  init: RequestInit,
  options: FetchWithRetryOptions,
): Promise<Response> {
  const retry = { ...defaultRetryOptions, ...options.retry };
  const fetchFn = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const gate = options.gate ?? processRateLimitGate;
  const started = now();
  // The call's one budget: attempts, total time and the caller's deadline, whichever ends first.
  const endBy = Math.min(started + retry.maxTotalMs, options.deadline ?? Number.POSITIVE_INFINITY);
  const callerSignals = [options.signal, init.signal ?? undefined].filter(
    (signal): signal is AbortSignal => signal !== undefined,
  );
  const callerSignal = callerSignals.length > 0 ? AbortSignal.any(callerSignals) : undefined;
  let lastError: InsituError | undefined;
  /** The call is over: the error is final, and retrying the whole step would start a fresh budget. */
  const spent = (error: InsituError, attempts: number, why: string) =>
    finalError(error, attempts, why, now() - started);
  const pastDeadline = () =>
    options.deadline !== undefined && now() >= options.deadline
      ? (options.deadlineError?.() ?? deadlineReached(options.provider, options.deadline))
      : undefined;
  for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
    if (callerSignal?.aborted) throw abortedError(options.provider, callerSignal.reason);
    // A shared cooldown (a 429 seen by any caller of this model) is waited out first.
    if (options.gateKey) {
      const until = await gate.cooldownUntil(options.gateKey);
      const wait = until === undefined ? 0 : until - now();
      if (wait > 0) {
        if (now() + wait > endBy) {
          throw spent(
            lastError ??
              llmError(LlmErrorCode.rateLimited, `${options.provider} is cooling down after a rate limit`, {
                retryable: true,
                details: { provider: options.provider, cooldownMs: wait },
              }),
            attempt - 1,
            `the shared rate-limit cooldown (${wait} ms) ends past the call's budget`,
          );
        }
        options.onRetry?.({ attempt, delayMs: wait, reason: "shared cooldown" });
        await sleep(wait, callerSignal, options.provider);
      }
    }
    const expired = pastDeadline();
    if (expired) throw expired;
    const controller = new AbortController();
    const remaining = endBy - now();
    const attemptTimeout = Math.max(1, Math.min(options.timeoutMs ?? Number.POSITIVE_INFINITY, remaining));
    const byDeadline =
      attemptTimeout === remaining && options.deadline !== undefined && endBy === options.deadline;
    const timeoutError = Number.isFinite(attemptTimeout)
      ? byDeadline
        ? (options.deadlineError?.() ?? deadlineReached(options.provider, options.deadline ?? endBy))
        : llmError(
            LlmErrorCode.timeout,
            `${options.provider} call timed out after ${Math.round(attemptTimeout)} ms`,
            {
              retryable: true,
              details: { provider: options.provider, timeoutMs: Math.round(attemptTimeout), attempt },
            },
          )
      : undefined;
    const timer = timeoutError ? setTimeout(() => controller.abort(timeoutError), attemptTimeout) : undefined;
    timer?.unref();
    const onCallerAbort = () => controller.abort(abortedError(options.provider, callerSignal?.reason));
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    let response: Response;
    try {
      response = await fetchFn(url, { ...init, signal: controller.signal });
    } catch (error) {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onCallerAbort);
      if (callerSignal?.aborted) throw abortedError(options.provider, callerSignal.reason);
      if (controller.signal.aborted && controller.signal.reason === timeoutError && timeoutError) {
        if (byDeadline) throw timeoutError;
        lastError = timeoutError;
      } else {
        lastError = llmError(
          LlmErrorCode.unavailable,
          `${options.provider} unreachable: ${describe(error)}`,
          {
            retryable: true,
            details: { provider: options.provider, attempt },
            cause: error,
          },
        );
      }
      if (attempt >= retry.maxAttempts) throw spent(lastError, attempt, "every attempt failed");
      const delay = backoffDelay(attempt, retry);
      if (now() + delay >= endBy) throw spent(lastError, attempt, "no time left for another attempt");
      await waitBeforeRetry(attempt, delay, lastError.code, options, callerSignal);
      continue;
    }
    if (response.ok) {
      // The deadline stays armed while the caller reads the body; the caller-abort link too.
      const release = () => {
        clearTimeout(timer);
        callerSignal?.removeEventListener("abort", onCallerAbort);
      };
      return withRelease(response, release);
    }
    const bodyText = await readBounded(response).catch(() => "");
    clearTimeout(timer);
    callerSignal?.removeEventListener("abort", onCallerAbort);
    const retryAfterMs = parseRetryAfter(response.headers) ?? parseRetryDelayBody(bodyText);
    lastError = errorForStatus(response.status, providerMessage(bodyText) || response.statusText, {
      provider: options.provider,
      attempts: attempt,
      retryAfterMs,
    });
    if (response.status === 429 && options.gateKey) {
      await gate.coolDown(options.gateKey, now() + (retryAfterMs ?? backoffDelay(attempt, retry)));
    }
    if (!isRetryableStatus(response.status)) throw lastError;
    if (attempt >= retry.maxAttempts) throw spent(lastError, attempt, "every attempt failed");
    if (retryAfterMs !== undefined && retryAfterMs > retry.maxRetryAfterMs)
      throw spent(lastError, attempt, `Retry-After ${retryAfterMs} ms is longer than allowed`);
    const delay = retryAfterMs ?? backoffDelay(attempt, retry);
    if (now() + delay >= endBy) {
      throw spent(lastError, attempt, `the next attempt (in ${delay} ms) would start past the call's budget`);
    }
    // With a gate, the cooldown just recorded is waited out at the top of the loop.
    if (response.status === 429 && options.gateKey) {
      options.onRetry?.({ attempt, delayMs: 0, reason: `status ${response.status}` });
      continue;
    }
    await waitBeforeRetry(attempt, delay, `status ${response.status}`, options, callerSignal);
  }
  throw lastError ?? llmError(LlmErrorCode.unavailable, `${options.provider}: no attempt was made`);
}

/**
 * A retryable provider failure after the call's retry budget is spent: final. Not retryable, so
 * a work queue stores it instead of redelivering the step (which would start a fresh budget and
 * multiply requests). See ADR 0061.
 */
function finalError(error: InsituError, attempts: number, why: string, elapsedMs: number): InsituError {
  if (!error.retryable) return error;
  return new InsituError(`${error.message} (retry budget spent: ${why})`, {
    code: error.code,
    category: error.category,
    retryable: false,
    details: { ...error.details, attempts, retryBudgetSpent: true, elapsedMs: Math.round(elapsedMs) },
    cause: error.cause,
  });
}

function deadlineReached(provider: string, deadline: number): InsituError {
  return llmError(LlmErrorCode.timeout, `${provider} call reached its deadline`, {
    retryable: false,
    details: { provider, deadline: new Date(deadline).toISOString() },
  });
}

/**
 * Clears the attempt's deadline timer and caller link once the body has been read (or the
 * reader gave up), so a finished call leaves nothing attached to a long-lived signal.
 */
function withRelease(response: Response, release: () => void): Response {
  if (!response.body) {
    release();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        release();
        controller.error(error);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

async function waitBeforeRetry(
  attempt: number,
  delayMs: number,
  reason: string,
  options: FetchWithRetryOptions,
  signal: AbortSignal | undefined,
): Promise<void> {
  options.onRetry?.({ attempt, delayMs, reason });
  await sleep(delayMs, signal, options.provider);
}

/** Waits, ending early with LLM_ABORTED when the signal fires. */
export function sleep(ms: number, signal: AbortSignal | undefined, provider: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(provider, signal.reason));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(provider, signal?.reason));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function abortedError(provider: string, reason: unknown): InsituError {
  if (reason instanceof InsituError && reason.code === LlmErrorCode.aborted) return reason;
  // A call cancelled by its task's deadline is a budget stop, not a cancellation.
  if (reason instanceof InsituError && reason.code === LlmErrorCode.budgetExceeded) return reason;
  // Retryable: a cancelled call (a service shutting down, a caller giving up) may be made again,
  // and work queues must hand the step back instead of storing it as failed for good.
  return llmError(LlmErrorCode.aborted, `${provider} call was cancelled`, {
    category: ErrorCategory.user,
    retryable: true,
    details: { provider },
    cause: reason,
  });
}

async function readBounded(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_ERROR_BODY) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY);
}

/** Pulls `error.message` out of a Gemini or OpenAI error body; falls back to the raw text. */
export function providerMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    const candidate = Array.isArray(parsed) ? parsed[0] : parsed;
    if (candidate && typeof candidate === "object" && "error" in candidate) {
      const error = (candidate as { error: unknown }).error;
      if (typeof error === "string") return error;
      if (error && typeof error === "object" && "message" in error)
        return String((error as { message: unknown }).message);
    }
  } catch {
    // not JSON: use the text
  }
  return body.slice(0, 500).trim();
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

/** Turns anything a provider call threw into a typed error (InsituErrors pass through). */
export function toLlmError(error: unknown, provider: string, signal?: AbortSignal): InsituError {
  // A call its task's deadline cancelled is a budget stop, whatever the SDK made of the abort.
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  if (reason instanceof InsituError && reason.code === LlmErrorCode.budgetExceeded) return reason;
  if (error instanceof InsituError) return error;
  if (signal?.aborted) return abortedError(provider, signal.reason);
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof InsituError) return cause;
  // @google/genai's ApiError (e.g. an error chunk inside a stream) carries the HTTP status.
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status === "number" && status >= 400) {
    return errorForStatus(status, describe(error), { provider }, error);
  }
  const details: Record<string, JsonValue> = { provider };
  return llmError(
    LlmErrorCode.badResponse,
    `${provider} returned an unreadable response: ${describe(error)}`,
    {
      details,
      cause: error,
    },
  );
}
