import type { ToolCallOutcome } from "@insitu/contracts";
import type { ToolOutcome } from "@insitu/tool-kit";

/**
 * Classifies one tool call the way the original's reviewer did, but from the sandbox's typed
 * outcome instead of an LLM verdict:
 * - input error: the model's arguments were refused by the schema (not the tool's fault);
 * - execution failure: a crash, an invalid output, an empty result, or an `error` field that is
 *   not about the remote side;
 * - success: a non-empty result. An HTTP 4xx/5xx or an anti-bot block reported in the output is the
 *   remote side's answer, not a broken tool (as in the original).
 */
export function classifyOutcome(outcome: ToolOutcome, manifest?: ToolManifestLike): ToolCallOutcome {
  switch (outcome.status) {
    case "ok":
      if (manifest && isRejectedInput(outcome.output, manifest)) return "rejected-input";
      return isEmptyOrToolError(outcome.output) ? "execution-failure" : "success";
    case "INVALID_INPUT":
      return "input-error";
    case "TIMEOUT":
      return "timeout";
    case "PERMISSION_DENIED":
      return "denied";
    case "INVALID_OUTPUT":
      return "output-error";
    case "CRASH":
    case "MEMORY_LIMIT":
    case "OUTPUT_LIMIT":
      return "execution-failure";
  }
}

/**
 * Outcomes a repair can address: everything but successes, the caller's own input errors, and the
 * tool's answer that it cannot serve an input (ADR 0057).
 */
export function isRepairable(outcome: ToolCallOutcome): boolean {
  return outcome !== "success" && outcome !== "input-error" && outcome !== "rejected-input";
}

/** What classification reads of a manifest: the declared output schema. */
export interface ToolManifestLike {
  outputSchema: Record<string, unknown>;
}

/** Words of an error about the input itself (its value, range, format or support). */
const ABOUT_THE_INPUT =
  /\b(invalid|unsupported|not supported|cannot be|can ?not (?:be )?(?:written|represented|converted|parsed|computed|expressed)|must be|must not|should be|out of (?:range|bounds)|not in range|expected an?|not an? (?:valid|integer|number|positive)|too (?:large|small|long|short|many|few|big)|negative|non-?positive|no such (?:unit|currency|language|format|calendar|time ?zone)|unknown (?:unit|currency|language|format|calendar|time ?zone|operation)|malformed|outside|exceeds|below the minimum|above the maximum|is not defined for|undefined for|division by zero|divide by zero)\b/i;
/** Marks of a crash reported as text: a broken tool, not a refused input. */
const CRASH_TEXT =
  /\b(TypeError|ReferenceError|SyntaxError|RangeError|is not a function|is not iterable|of undefined|of null|Cannot read propert|Unexpected token|stack|NotCapable|fetch failed)\b/;

/**
 * An `ok` output that is the tool's declared error shape — the manifest's output schema has an
 * `error` property, the output sets only that (other fields blank) — with a message about the
 * input, not a crash. Such an answer ("0 cannot be written in Roman numerals") is the tool working.
 */
export function isRejectedInput(output: unknown, manifest: ToolManifestLike): boolean {
  const properties = manifest.outputSchema.properties;
  if (!properties || typeof properties !== "object" || !("error" in (properties as object))) return false;
  if (output === null || typeof output !== "object" || Array.isArray(output)) return false;
  const entries = Object.entries(output as Record<string, unknown>).filter(([, value]) => !isBlank(value));
  if (entries.length !== 1 || entries[0]?.[0] !== "error") return false;
  const message = String(entries[0]?.[1] ?? "");
  return ABOUT_THE_INPUT.test(message) && !CRASH_TEXT.test(message) && !REMOTE_SIDE.test(message);
}

const REMOTE_SIDE =
  /\b(4\d\d|5\d\d)\b|\bhttp\b|status|forbidden|blocked|captcha|rate.?limit|not found|no results/i;

function isEmptyOrToolError(output: unknown): boolean {
  if (output === null || output === undefined) return true;
  if (typeof output === "string") return output.trim() === "";
  if (Array.isArray(output)) return false;
  if (typeof output !== "object") return false;
  const entries = Object.entries(output as Record<string, unknown>).filter(([, value]) => !isBlank(value));
  if (entries.length === 0) return true;
  const onlyError = entries.length === 1 && entries[0]?.[0] === "error";
  if (!onlyError) return false;
  const message = String(entries[0]?.[1] ?? "");
  return !REMOTE_SIDE.test(message);
}

function isBlank(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === "string") return value.trim() === "";
  if (Array.isArray(value)) return value.length === 0;
  return false;
}
