import { ErrorCategory, InsituError } from "@insitu/errors";
import { z } from "zod";
import { addUsageTo, usageDetail, usageOfError, withUsage } from "./attempt-usage.js";
import { LlmErrorCode, llmError } from "./errors.js";
import type { GenerateRequest, GenerateResult, JsonSchema, LanguageModel, Message, Usage } from "./types.js";
import { emptyUsage } from "./types.js";

/** Model text above this size is refused before parsing. */
export const MAX_JSON_TEXT_BYTES = 4 * 1024 * 1024;

export type ExtractJsonResult = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Reads the JSON a model meant to produce: tolerates ```json fences, prose before or after, and a
 * BOM. Returns the first complete JSON object or array (or a bare JSON scalar when that is all
 * there is). Never throws.
 */
export function extractJson(text: string): ExtractJsonResult {
  if (Buffer.byteLength(text, "utf8") > MAX_JSON_TEXT_BYTES) {
    return { ok: false, error: `response is larger than ${MAX_JSON_TEXT_BYTES} bytes` };
  }
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  if (trimmed === "") return { ok: false, error: "response is empty; expected a JSON value" };
  const direct = tryParse(trimmed);
  if (direct.ok) return direct;

  const candidates: string[] = [];
  const fence = /```[a-zA-Z0-9_-]*\s*\n?([\s\S]*?)```/g;
  for (const match of trimmed.matchAll(fence)) if (match[1] !== undefined) candidates.push(match[1].trim());
  for (const candidate of candidates) {
    const parsed = tryParse(candidate);
    if (parsed.ok) return parsed;
    const inner = scanTopLevel(candidate);
    if (inner.kind === "value") return { ok: true, value: inner.value };
  }
  const scanned = scanTopLevel(trimmed);
  if (scanned.kind === "value") return { ok: true, value: scanned.value };
  if (scanned.kind === "truncated") {
    return {
      ok: false,
      error: `response is truncated: the JSON value starting at offset ${scanned.offset} is never closed (the answer was cut off)`,
    };
  }
  if (scanned.kind === "malformed")
    return { ok: false, error: `response holds malformed JSON: ${scanned.error}` };
  return { ok: false, error: `response is not JSON: ${direct.error}` };
}

type Scan =
  | { kind: "value"; value: unknown }
  | { kind: "truncated"; offset: number }
  | { kind: "malformed"; error: string }
  | { kind: "none" };

/**
 * Walks the text's top-level `{…}` / `[…]` spans left to right. A span that parses is the answer;
 * a span that is never closed means the answer was cut off — nothing nested inside it is ever
 * taken for the answer (a truncated plan must not pass as one of its inner objects).
 */
function scanTopLevel(text: string): Scan {
  let firstError: string | undefined;
  let start = 0;
  while (start < text.length) {
    const opener = nextOpener(text, start);
    if (opener === -1) break;
    const end = balancedEnd(text, opener);
    if (end === -1) return { kind: "truncated", offset: opener };
    if (end === -2) {
      // A closing bracket of the wrong kind: not JSON here; look past this opener.
      start = opener + 1;
      continue;
    }
    const parsed = tryParse(text.slice(opener, end + 1));
    if (parsed.ok) return { kind: "value", value: parsed.value };
    firstError ??= parsed.error;
    start = end + 1;
  }
  return firstError === undefined ? { kind: "none" } : { kind: "malformed", error: firstError };
}

function nextOpener(text: string, from: number): number {
  for (let index = from; index < text.length; index++) {
    const char = text[index];
    if (char === "{" || char === "[") return index;
  }
  return -1;
}

/** Index of the bracket closing the one at `start`; -1 when never closed, -2 on a mismatch. */
function balancedEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  for (let index = start; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (escaped) escaped = false;
      else if (char === "\\") escaped = true;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === "{" || char === "[") stack.push(char === "{" ? "}" : "]");
    else if (char === "}" || char === "]") {
      if (stack.pop() !== char) return -2;
      if (stack.length === 0) return index;
    }
  }
  return -1;
}

function tryParse(text: string): ExtractJsonResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Removes object keys whose value is null, at every depth (models send null for "absent"). */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === "object") {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== null) result[key] = dropNulls(item);
    return result;
  }
  return value;
}

export type ParseModelJsonResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * Extracts and validates model JSON against a zod schema. A null for an optional field is read as
 * absent: only nulls the schema rejects are removed, so nullable fields keep their nulls.
 */
export function parseModelJson<T>(text: string, schema: z.ZodType<T>): ParseModelJsonResult<T> {
  const extracted = extractJson(text);
  if (!extracted.ok) return { ok: false, errors: [extracted.error] };
  const first = schema.safeParse(extracted.value);
  if (first.success) return { ok: true, value: first.data };
  // Remove only the nulls the schema complained about, then try again (bounded).
  const value = structuredClone(extracted.value);
  let issues = first.error.issues;
  for (let round = 0; round < 8; round++) {
    let removed = false;
    for (const issue of issues) removed = deleteNullAt(value, issue.path) || removed;
    if (!removed) break;
    const again = schema.safeParse(value);
    if (again.success) return { ok: true, value: again.data };
    issues = again.error.issues;
  }
  const lenient = schema.safeParse(dropNulls(extracted.value));
  if (lenient.success) return { ok: true, value: lenient.data };
  return { ok: false, errors: first.error.issues.map(formatIssue) };
}

function deleteNullAt(root: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return false;
  let parent: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (parent === null || typeof parent !== "object") return false;
    parent = (parent as Record<PropertyKey, unknown>)[key];
  }
  const last = path.at(-1) as PropertyKey;
  if (parent === null || typeof parent !== "object" || Array.isArray(parent)) return false;
  const record = parent as Record<PropertyKey, unknown>;
  if (record[last] !== null) return false;
  delete record[last];
  return true;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(root)";
  return `${path}: ${issue.message}`;
}

/** JSON Schema for a zod schema, in the form the providers accept (no `$schema` key). */
export function zodToJsonSchema(schema: z.ZodType): JsonSchema {
  const generated = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const { $schema: _ignored, ...rest } = generated;
  return rest;
}

export interface GenerateObjectOptions {
  /** How many times a failing answer is sent back with its validation errors. Default 2. */
  maxRepairs?: number;
  /**
   * Tokens (input + output) this call may spend over all its attempts — the task's remaining
   * token budget. Checked before every attempt after the first: once spent, the call ends with
   * BUDGET_EXCEEDED (carrying the usage) instead of asking again.
   */
  maxTokens?: number;
}

export interface GenerateObjectResult<T> {
  object: T;
  /** The last model result (the one that validated). */
  result: GenerateResult;
  /** Model calls made (1 + repairs). */
  attempts: number;
  /** Usage summed over every attempt. */
  usage: Usage;
}

/** Provider errors that are a bad answer rather than a bad request: asked again like invalid JSON. */
const REPAIRABLE = new Set<string>([LlmErrorCode.emptyResponse, LlmErrorCode.badResponse]);

/** Characters of an invalid answer quoted back to the model in a repair turn (head + tail). */
export const REPAIR_EXCERPT_CHARS = 4000;

/**
 * Structured output with repair: asks for JSON matching `schema` (sent to the provider as JSON
 * Schema unless the request already has one), reads it strictly (a truncated answer — cut at the
 * token limit or never closed — is never parsed), and when it fails sends a bounded excerpt of
 * the answer back with the errors, at most `maxRepairs` times. Then throws LLM_INVALID_OUTPUT.
 * Every error it throws — its own, the provider's, a budget stop — carries the usage summed over
 * all attempts in `details.usage`, so the caller can charge what was spent.
 */
export async function generateObject<T>(
  model: LanguageModel,
  request: GenerateRequest,
  schema: z.ZodType<T>,
  options: GenerateObjectOptions = {},
): Promise<GenerateObjectResult<T>> {
  const maxRepairs = options.maxRepairs ?? 2;
  const responseSchema = request.responseSchema ?? zodToJsonSchema(schema);
  const messages: Message[] = [...request.messages];
  const usage = emptyUsage();
  let lastErrors: string[] = [];
  let lastText = "";
  for (let attempt = 1; attempt <= maxRepairs + 1; attempt++) {
    if (attempt > 1 && options.maxTokens !== undefined) {
      const spent = usage.inputTokens + usage.outputTokens;
      if (spent >= options.maxTokens) {
        throw withUsage(
          llmError(
            LlmErrorCode.budgetExceeded,
            `structured output stopped after ${attempt - 1} attempts: ${spent} of ${options.maxTokens} tokens spent`,
            {
              category: ErrorCategory.user,
              details: { budget: "tokens", limit: options.maxTokens, used: spent, ...taskDetail(request) },
            },
          ),
          usage,
          { attempts: attempt - 1 },
        );
      }
    }
    let result: GenerateResult;
    try {
      result = await model.generate({ ...request, messages, responseSchema });
    } catch (error) {
      const failure = InsituError.from(error);
      addUsageTo(usage, usageOfError(failure));
      // An empty or unreadable answer is one failed attempt of this call, asked again here within
      // the same bound — never handed to a work queue to redeliver (a fresh budget each time).
      if (REPAIRABLE.has(failure.code) && attempt <= maxRepairs) {
        lastErrors = [`your previous answer could not be used: ${failure.message.slice(0, 500)}`];
        lastText = "";
        continue;
      }
      // `attempts` stays the provider's own count (HTTP attempts of this request).
      throw withUsage(failure, usage, { objectAttempts: attempt });
    }
    addUsageTo(usage, result.usage);
    const parsed =
      result.finishReason === "length"
        ? {
            ok: false as const,
            errors: [
              `your answer was cut off at the output token limit (finish ${result.rawFinishReason ?? "length"}) and is incomplete; answer again with a shorter JSON value`,
            ],
          }
        : parseModelJson(result.text, schema);
    if (parsed.ok) return { object: parsed.value, result, attempts: attempt, usage };
    lastErrors = parsed.errors;
    lastText = result.text;
    messages.push({ role: "model", content: excerptForRepair(result.text) });
    messages.push({ role: "user", content: repairPrompt(parsed.errors) });
  }
  throw llmError(
    LlmErrorCode.invalidOutput,
    `model output failed validation after ${maxRepairs + 1} attempts: ${lastErrors.slice(0, 5).join("; ")}`,
    {
      category: ErrorCategory.thirdParty,
      details: {
        attempts: maxRepairs + 1,
        errors: lastErrors.slice(0, 50),
        lastText: lastText.slice(0, 4000),
        usage: usageDetail(usage),
      },
    },
  );
}

function taskDetail(request: GenerateRequest): { taskId?: string } {
  return request.taskId ? { taskId: request.taskId } : {};
}

/**
 * The part of an invalid answer that goes back to the model: whole when short, else its head and
 * tail around a marker saying how much was left out. Never more than about
 * {@link REPAIR_EXCERPT_CHARS} characters, however large the answer.
 */
export function excerptForRepair(text: string, limit = REPAIR_EXCERPT_CHARS): string {
  if (text.length <= limit) return text;
  const head = Math.floor(limit * 0.6);
  const tail = limit - head;
  const omitted = text.length - head - tail;
  return `${text.slice(0, head)}\n[… ${omitted} characters of the invalid answer omitted …]\n${text.slice(-tail)}`;
}

/** The message sent back to the model when its JSON did not validate. */
export function repairPrompt(errors: string[]): string {
  return [
    "Your previous answer was not valid against the required JSON Schema.",
    "Fix these problems and answer again with only the corrected JSON value (no prose, no code fences):",
    ...errors.slice(0, 20).map((error) => `- ${error.slice(0, 500)}`),
  ].join("\n");
}
