/**
 * The one classified error of insitu. Every package throws (or returns) this; it crosses the bus as
 * {@link SerializedError} and is rebuilt typed on the other side with {@link InsituError.fromJSON}.
 */

/** Who is to blame: the caller's input, our own system, or a dependency we do not own. */
export const ErrorCategory = {
  user: "user",
  system: "system",
  thirdParty: "third-party",
} as const;
export type ErrorCategory = (typeof ErrorCategory)[keyof typeof ErrorCategory];

/** JSON-safe detail values; anything else is dropped by {@link toJsonSafe}. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface InsituErrorOptions {
  /** UPPER_SNAKE code, stable across versions; clients switch on it. */
  code: string;
  category?: ErrorCategory;
  /** True when the same request may succeed if repeated later. */
  retryable?: boolean;
  /** JSON-safe facts a caller (or a model) can act on. */
  details?: Record<string, JsonValue>;
  cause?: unknown;
}

/** The wire form of an {@link InsituError}. */
export interface SerializedError {
  name: "InsituError";
  code: string;
  message: string;
  category: ErrorCategory;
  retryable: boolean;
  details: Record<string, JsonValue>;
  cause?: SerializedError | { message: string };
}

const CODE_PATTERN = /^[A-Z][A-Z0-9_]*$/;

export class InsituError extends Error {
  override readonly name = "InsituError";
  readonly code: string;
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  readonly details: Record<string, JsonValue>;

  constructor(message: string, options: InsituErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!CODE_PATTERN.test(options.code)) {
      throw new TypeError(`error code must be UPPER_SNAKE, got ${JSON.stringify(options.code)}`);
    }
    this.code = options.code;
    this.category = options.category ?? ErrorCategory.system;
    this.retryable = options.retryable ?? false;
    this.details = options.details ? (toJsonSafe(options.details) as Record<string, JsonValue>) : {};
  }

  toJSON(): SerializedError {
    const serialized: SerializedError = {
      name: "InsituError",
      code: this.code,
      message: this.message,
      category: this.category,
      retryable: this.retryable,
      details: this.details,
    };
    if (this.cause !== undefined) serialized.cause = serializeCause(this.cause);
    return serialized;
  }

  /** Rebuilds a typed error from its wire form; anything unrecognisable becomes MALFORMED_ERROR. */
  static fromJSON(value: unknown): InsituError {
    if (!isSerializedError(value)) {
      return new InsituError("received an error payload that is not a serialized InsituError", {
        code: "MALFORMED_ERROR",
        category: ErrorCategory.system,
        details: { received: toJsonSafe(value) },
      });
    }
    const cause =
      value.cause === undefined
        ? undefined
        : isSerializedError(value.cause)
          ? InsituError.fromJSON(value.cause)
          : new Error(String((value.cause as { message?: unknown }).message ?? "unknown cause"));
    return new InsituError(value.message, {
      code: value.code,
      category: value.category,
      retryable: value.retryable,
      details: value.details,
      cause,
    });
  }

  /** Wraps anything thrown into an InsituError, keeping an InsituError as it is. */
  static from(error: unknown, fallback: Partial<InsituErrorOptions> = {}): InsituError {
    if (error instanceof InsituError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new InsituError(message, {
      code: fallback.code ?? "INTERNAL",
      category: fallback.category ?? ErrorCategory.system,
      retryable: fallback.retryable ?? false,
      details: fallback.details,
      cause: error,
    });
  }
}

export function isInsituError(error: unknown, code?: string): error is InsituError {
  return error instanceof InsituError && (code === undefined || error.code === code);
}

function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    candidate.name === "InsituError" &&
    typeof candidate.code === "string" &&
    CODE_PATTERN.test(candidate.code) &&
    typeof candidate.message === "string" &&
    (candidate.category === "user" ||
      candidate.category === "system" ||
      candidate.category === "third-party") &&
    typeof candidate.retryable === "boolean" &&
    typeof candidate.details === "object" &&
    candidate.details !== null &&
    !Array.isArray(candidate.details)
  );
}

function serializeCause(cause: unknown, depth = 0): SerializedError | { message: string } {
  if (cause instanceof InsituError && depth < 4) return cause.toJSON();
  if (cause instanceof Error) return { message: cause.message };
  return { message: String(cause) };
}

/** Drops what JSON cannot carry (functions, symbols, cycles, bigints as strings) and bounds depth. */
export function toJsonSafe(value: unknown, depth = 0, seen = new WeakSet<object>()): JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object" || depth > 8) return value === undefined ? null : String(value);
  if (seen.has(value)) return "[circular]";
  seen.add(value);
  if (Array.isArray(value)) return value.slice(0, 1000).map((item) => toJsonSafe(item, depth + 1, seen));
  if (value instanceof Error) return { message: value.message };
  const result: Record<string, JsonValue> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    result[key] = toJsonSafe(item, depth + 1, seen);
  }
  return result;
}
