import { InsituError, type JsonValue } from "@insitu/errors";
import { type Usage, emptyUsage } from "./types.js";

/**
 * Usage travels with failures: a provider that answered 200 and then had its answer refused
 * (safety, empty, malformed, truncated, invalid JSON) still billed the tokens, so every typed
 * error raised after an answer carries them in `details.usage`, and callers charge them to the
 * task. See ADR 0060.
 */

/** The usage a failed call consumed, when the error carries it. */
export function usageOfError(error: unknown): Usage | undefined {
  if (!(error instanceof InsituError)) return undefined;
  const value = error.details.usage as Record<string, unknown> | undefined;
  if (!value || typeof value !== "object") return undefined;
  const number = (key: string) => (typeof value[key] === "number" ? (value[key] as number) : 0);
  const usage: Usage = {
    inputTokens: number("inputTokens"),
    outputTokens: number("outputTokens"),
    cachedTokens: number("cachedTokens"),
  };
  if (number("reasoningTokens") > 0) usage.reasoningTokens = number("reasoningTokens");
  return usage;
}

/** `usage` as an error detail (plain JSON). */
export function usageDetail(usage: Usage): Record<string, JsonValue> {
  const detail: Record<string, JsonValue> = {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedTokens: usage.cachedTokens,
  };
  if (usage.reasoningTokens) detail.reasoningTokens = usage.reasoningTokens;
  return detail;
}

/** The same error with `details.usage` set to `usage` (and any extra details merged). */
export function withUsage(
  error: InsituError,
  usage: Usage,
  extra: Record<string, JsonValue | undefined> = {},
): InsituError {
  const details: Record<string, JsonValue> = { ...error.details, usage: usageDetail(usage) };
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) details[key] = value;
  return new InsituError(error.message, {
    code: error.code,
    category: error.category,
    retryable: error.retryable,
    details,
    cause: error.cause,
  });
}

/** `into += add`, field by field. */
export function addUsageTo(into: Usage, add: Usage | undefined): Usage {
  if (!add) return into;
  into.inputTokens += add.inputTokens;
  into.outputTokens += add.outputTokens;
  into.cachedTokens += add.cachedTokens;
  if (add.reasoningTokens) into.reasoningTokens = (into.reasoningTokens ?? 0) + add.reasoningTokens;
  return into;
}

export function sumUsage(...items: (Usage | undefined)[]): Usage {
  const total = emptyUsage();
  for (const item of items) addUsageTo(total, item);
  return total;
}
