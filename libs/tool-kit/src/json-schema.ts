import { createHash } from "node:crypto";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { linearRegExp, linearRegExpEngine } from "./linear-regexp.js";
import { canonicalJson } from "./canonical-json.js";

// ajv-formats is CommonJS with `export default`; under NodeNext the default import is the module
// object, so take `.default` when it is there (REFERENCE.md §B).
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/**
 * JSON Schemas in insitu are written by a model that may have read a hostile web page, so every
 * schema is untrusted: bounded in size and depth, no `$data`, no `$ref` outside the document, no
 * regular expression that can backtrack catastrophically (they are evaluated in Node, where a
 * ReDoS would stall the whole service), and it must compile.
 */
export const SchemaLimits = {
  maxBytes: 64 * 1024,
  maxDepth: 24,
  maxNodes: 4000,
  maxPatternLength: 256,
} as const;

/** A problem with a schema or a value, phrased so that a model can fix it. */
export interface SchemaIssue {
  /** JSON Pointer into the schema (for schema problems) or the value (for validation errors). */
  path: string;
  message: string;
}

export type JsonSchema = Record<string, unknown>;

/** Checks an untrusted schema; returns [] when it is acceptable. */
export function checkUntrustedSchema(
  schema: unknown,
  options: { requireObjectType?: boolean } = {},
): SchemaIssue[] {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    return [{ path: "", message: "a schema must be a JSON object" }];
  }
  let text: string;
  try {
    text = JSON.stringify(schema);
  } catch {
    return [{ path: "", message: "the schema is not plain JSON (cycle or non-JSON value)" }];
  }
  if (Buffer.byteLength(text) > SchemaLimits.maxBytes) {
    return [{ path: "", message: `the schema is larger than ${SchemaLimits.maxBytes} bytes; simplify it` }];
  }
  const issues: SchemaIssue[] = [];
  let nodes = 0;
  const walk = (node: unknown, path: string, depth: number, isPropertyMap: boolean): void => {
    if (issues.length >= 20) return;
    nodes += 1;
    if (nodes > SchemaLimits.maxNodes) {
      if (nodes === SchemaLimits.maxNodes + 1)
        issues.push({ path, message: "the schema has too many nodes" });
      return;
    }
    if (depth > SchemaLimits.maxDepth) {
      issues.push({ path, message: `the schema nests deeper than ${SchemaLimits.maxDepth} levels` });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        walk(item, `${path}/${index}`, depth + 1, false);
      });
      return;
    }
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const childPath = `${path}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (!isPropertyMap) {
        if (key === "$data") issues.push({ path: childPath, message: "$data references are not allowed" });
        if (key === "$ref" || key === "$dynamicRef" || key === "$recursiveRef") {
          if (typeof value !== "string" || !value.startsWith("#")) {
            issues.push({
              path: childPath,
              message: `${key} may only point inside this schema (start with "#")`,
            });
          }
        }
        if (
          (key === "$id" || key === "id") &&
          typeof value === "string" &&
          /^[a-z][a-z0-9+.-]*:/i.test(value)
        ) {
          issues.push({ path: childPath, message: `${key} must not name an absolute URI` });
        }
        if (key === "pattern" && typeof value === "string") {
          const problem = checkPattern(value);
          if (problem) issues.push({ path: childPath, message: problem });
        }
        if (key === "patternProperties" && typeof value === "object" && value !== null) {
          for (const pattern of Object.keys(value)) {
            const problem = checkPattern(pattern);
            if (problem) issues.push({ path: `${childPath}/${pattern}`, message: problem });
          }
        }
      }
      // The values of these keywords are maps from names to schemas, so their keys are names.
      const childIsPropertyMap =
        !isPropertyMap &&
        (key === "properties" ||
          key === "patternProperties" ||
          key === "definitions" ||
          key === "$defs" ||
          key === "dependentSchemas");
      walk(value, childPath, depth + 1, childIsPropertyMap);
    }
  };
  walk(schema, "", 0, false);
  if (issues.length > 0) return issues;
  if (options.requireObjectType && (schema as JsonSchema).type !== "object") {
    return [{ path: "/type", message: 'an input schema must be {"type": "object", "properties": {...}}' }];
  }
  try {
    compile(schema as JsonSchema);
  } catch (error) {
    return [{ path: "", message: `the schema does not compile: ${(error as Error).message}` }];
  }
  return [];
}

/**
 * A pattern is refused when it is long or when a quantified group itself contains a quantifier
 * or an alternation (`(a+)+`, `(a|a)*`): the shapes behind practically every ReDoS.
 */
export function checkPattern(pattern: string): string | undefined {
  if (pattern.length > SchemaLimits.maxPatternLength) {
    return `pattern longer than ${SchemaLimits.maxPatternLength} characters`;
  }
  try {
    linearRegExp(pattern);
  } catch (error) {
    return `pattern is not a valid regular expression that runs in linear time (no back-references or lookaround): ${(error as Error).message}`;
  }
  if (/\\[1-9]|\\k</.test(pattern)) return "pattern must not use back-references";
  // Track, per open group, whether it contains a quantifier or alternation; if a group that does is
  // itself quantified, backtracking can explode.
  const stack: boolean[] = [];
  let lastGroupRisky = false;
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index];
    if (char === "\\") {
      index += 1;
      lastGroupRisky = false;
      continue;
    }
    if (char === "[") {
      const close = findClassEnd(pattern, index);
      index = close;
      lastGroupRisky = false;
      continue;
    }
    if (char === "(") {
      stack.push(false);
      continue;
    }
    if (char === ")") {
      lastGroupRisky = stack.pop() ?? false;
      if (lastGroupRisky && stack.length > 0) stack[stack.length - 1] = true;
      continue;
    }
    const isQuantifier = char === "*" || char === "+" || char === "?" || char === "{";
    if (isQuantifier) {
      const unbounded = char !== "?" && !(char === "{" && /^\{\d+\}/.test(pattern.slice(index)));
      if (lastGroupRisky && unbounded)
        return "pattern nests quantifiers (catastrophic backtracking); simplify it";
      if (unbounded && stack.length > 0) stack[stack.length - 1] = true;
      if (char === "{") {
        const close = pattern.indexOf("}", index);
        if (close > index) index = close;
      }
    }
    if (char === "|" && stack.length > 0) stack[stack.length - 1] = true;
    lastGroupRisky = false;
  }
  return undefined;
}

function findClassEnd(pattern: string, start: number): number {
  for (let index = start + 1; index < pattern.length; index += 1) {
    if (pattern[index] === "\\") index += 1;
    else if (pattern[index] === "]") return index;
  }
  return pattern.length;
}

let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();
const MAX_CACHED_VALIDATORS = 512;

function getAjv(): Ajv {
  if (!ajv) {
    ajv = new Ajv({
      allErrors: true,
      strict: false,
      $data: false,
      allowUnionTypes: true,
      validateSchema: true,
      // No loadSchema: a remote $ref can never be fetched.
      // Every `pattern` runs on V8's linear-time engine: no catastrophic backtracking in Node.
      code: { optimize: 1, regExp: linearRegExpEngine },
    });
    addFormats(ajv);
  }
  return ajv;
}

/** Compiles (and caches, bounded) a schema that already passed {@link checkUntrustedSchema}. */
export function compile(schema: JsonSchema): ValidateFunction {
  const key = canonicalJson(schema);
  const cached = validators.get(key);
  if (cached) {
    validators.delete(key);
    validators.set(key, cached);
    return cached;
  }
  const validate = getAjv().compile(schema);
  validators.set(key, validate);
  if (validators.size > MAX_CACHED_VALIDATORS) {
    const oldest = validators.keys().next().value;
    if (oldest !== undefined) validators.delete(oldest);
  }
  return validate;
}

/** Validates a value; returns [] when valid, otherwise at most 20 model-readable issues. */
export function validateAgainstSchema(schema: JsonSchema, value: unknown): SchemaIssue[] {
  const validate = compile(schema);
  if (validate(value)) return [];
  return (validate.errors ?? []).slice(0, 20).map(describeAjvError);
}

function describeAjvError(error: ErrorObject): SchemaIssue {
  const params = error.params as Record<string, unknown>;
  let message = error.message ?? "is invalid";
  if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    message = `has an unexpected property "${params.additionalProperty}"`;
  } else if (error.keyword === "required" && typeof params.missingProperty === "string") {
    message = `is missing the required property "${params.missingProperty}"`;
  } else if (error.keyword === "enum" && Array.isArray(params.allowedValues)) {
    message = `must be one of ${JSON.stringify(params.allowedValues).slice(0, 200)}`;
  }
  return { path: error.instancePath || "/", message };
}

export function schemaHash(schema: JsonSchema): string {
  return createHash("sha256").update(canonicalJson(schema)).digest("hex");
}
