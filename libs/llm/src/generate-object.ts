import { ErrorCategory } from "@insitu/errors";
import { z } from "zod";
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
    const inner = firstBalanced(candidate);
    if (inner !== undefined) {
      const innerParsed = tryParse(inner);
      if (innerParsed.ok) return innerParsed;
    }
  }
  const balanced = firstBalanced(trimmed);
  if (balanced !== undefined) {
    const parsed = tryParse(balanced);
    if (parsed.ok) return parsed;
    return { ok: false, error: `response holds malformed JSON: ${parsed.error}` };
  }
  return { ok: false, error: `response is not JSON: ${direct.error}` };
}

function tryParse(text: string): ExtractJsonResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** The first `{…}` or `[…]` span with balanced brackets, respecting strings and escapes. */
function firstBalanced(text: string): string | undefined {
  for (let start = 0; start < text.length; start++) {
    const opener = text[start];
    if (opener !== "{" && opener !== "[") continue;
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
        if (stack.pop() !== char) break;
        if (stack.length === 0) return text.slice(start, index + 1);
      }
    }
  }
  return undefined;
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

/**
 * Structured output with repair: asks for JSON matching `schema` (sent to the provider as JSON
 * Schema unless the request already has one), reads it leniently, and when it fails validation
 * sends the answer back with the errors, at most `maxRepairs` times. Then throws
 * LLM_INVALID_OUTPUT carrying the last errors and text.
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
    const result = await model.generate({ ...request, messages, responseSchema });
    usage.inputTokens += result.usage.inputTokens;
    usage.outputTokens += result.usage.outputTokens;
    usage.cachedTokens += result.usage.cachedTokens;
    const parsed = parseModelJson(result.text, schema);
    if (parsed.ok) return { object: parsed.value, result, attempts: attempt, usage };
    lastErrors = parsed.errors;
    lastText = result.text;
    messages.push({ role: "model", content: result.text });
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
      },
    },
  );
}

/** The message sent back to the model when its JSON did not validate. */
export function repairPrompt(errors: string[]): string {
  return [
    "Your previous answer was not valid against the required JSON Schema.",
    "Fix these problems and answer again with only the corrected JSON value (no prose, no code fences):",
    ...errors.slice(0, 20).map((error) => `- ${error}`),
  ].join("\n");
}
