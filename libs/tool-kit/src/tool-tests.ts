import { z } from "zod";
import { linearRegExp } from "./linear-regexp.js";
import { checkPattern } from "./json-schema.js";
import { type OutcomeStatus, OutcomeStatusSchema, type ToolOutcome } from "./outcome.js";

/**
 * Tests a model writes for its tool: plain data, no code, so the runner can check them without
 * running anything the model wrote outside the sandbox.
 *
 * ```json
 * [
 *   { "name": "adds two numbers", "input": { "a": 2, "b": 3 }, "expect": { "subset": { "sum": 5 } } },
 *   { "name": "rejects text", "input": { "a": "x", "b": 3 }, "expect": { "outcome": "INVALID_INPUT" } },
 *   { "name": "rounding", "input": { "a": 0.1, "b": 0.2 },
 *     "expect": { "checks": [{ "path": "sum", "op": "approx", "value": 0.3, "tolerance": 1e-9 }] } }
 * ]
 * ```
 *
 * - `outcome` (default `"ok"`): the status the call must end with.
 * - `equals`: the whole output, deep-equal (numbers within 1e-9 relative).
 * - `subset`: every member given must be present and equal; arrays match element by element and
 *   must have the same length; extra object members in the output are fine.
 * - `checks`: predicates on parts of the output. `path` is dotted (`items.0.name`, `items[0].name`)
 *   or a JSON Pointer (`/items/0/name`); `""` is the whole output.
 */
export const CheckOp = {
  equals: "equals",
  notEquals: "not_equals",
  approx: "approx",
  gt: "gt",
  gte: "gte",
  lt: "lt",
  lte: "lte",
  contains: "contains",
  notContains: "not_contains",
  matches: "matches",
  type: "type",
  length: "length",
  minLength: "min_length",
  maxLength: "max_length",
  exists: "exists",
  notExists: "not_exists",
  oneOf: "one_of",
} as const;
export type CheckOp = (typeof CheckOp)[keyof typeof CheckOp];

const JsonValueSchema: z.ZodType<unknown> = z.unknown().refine(isJson, "must be plain JSON");

export const ToolCheckSchema = z
  .object({
    path: z.string().max(500),
    op: z.enum(Object.values(CheckOp) as [CheckOp, ...CheckOp[]]),
    value: JsonValueSchema.optional(),
    /** For `approx`: absolute tolerance (default 1e-9 relative to the expected value). */
    tolerance: z.number().nonnegative().optional(),
  })
  .strict()
  .superRefine((check, context) => {
    if (check.op === "matches") {
      const problem =
        typeof check.value === "string" ? checkPattern(check.value) : "matches needs a string pattern";
      if (problem) context.addIssue({ code: "custom", message: problem, path: ["value"] });
    }
  });
export type ToolCheck = z.infer<typeof ToolCheckSchema>;

export const ToolExpectationSchema = z
  .object({
    outcome: OutcomeStatusSchema.optional(),
    equals: JsonValueSchema.optional(),
    subset: JsonValueSchema.optional(),
    checks: z.array(ToolCheckSchema).max(50).optional(),
  })
  .strict()
  .refine(
    (expect) =>
      expect.outcome !== undefined ||
      expect.equals !== undefined ||
      expect.subset !== undefined ||
      expect.checks !== undefined,
    "expect needs at least one of outcome, equals, subset, checks",
  );
export type ToolExpectation = z.infer<typeof ToolExpectationSchema>;

export const ToolTestCaseSchema = z
  .object({
    name: z.string().min(1).max(200),
    input: JsonValueSchema,
    expect: ToolExpectationSchema,
  })
  .strict();
export type ToolTestCase = z.infer<typeof ToolTestCaseSchema>;

export const ToolTestsSchema = z.array(ToolTestCaseSchema).max(100);

/** The verdict on one case. */
export interface ToolTestResult {
  name: string;
  passed: boolean;
  /** Why it failed, one line each, e.g. `at /sum: expected 5, got 6`. */
  failures: string[];
  status: OutcomeStatus;
}

/** Judges one outcome against a case's expectation. */
export function judgeTestCase(testCase: ToolTestCase, outcome: ToolOutcome): ToolTestResult {
  const failures: string[] = [];
  const expect = testCase.expect;
  const expectedStatus = expect.outcome ?? "ok";
  if (outcome.status !== expectedStatus) {
    failures.push(`expected outcome ${expectedStatus}, got ${outcome.status}: ${summarize(outcome)}`);
  } else if (outcome.status === "ok") {
    const output = outcome.output;
    if (expect.equals !== undefined && !deepEqual(output, expect.equals)) {
      failures.push(`at /: expected ${preview(expect.equals)}, got ${preview(output)}`);
    }
    if (expect.subset !== undefined) matchSubset(expect.subset, output, "", failures);
    for (const check of expect.checks ?? []) {
      const failure = runCheck(check, output);
      if (failure) failures.push(failure);
    }
  }
  return {
    name: testCase.name,
    passed: failures.length === 0,
    failures: failures.slice(0, 20),
    status: outcome.status,
  };
}

function summarize(outcome: ToolOutcome): string {
  switch (outcome.status) {
    case "ok":
      return preview(outcome.output);
    case "INVALID_INPUT":
    case "INVALID_OUTPUT":
      return outcome.issues.map((issue) => `${issue.path} ${issue.message}`).join("; ");
    case "PERMISSION_DENIED":
      return outcome.message;
    case "CRASH":
      return outcome.message;
    default:
      return outcome.status;
  }
}

function matchSubset(expected: unknown, actual: unknown, path: string, failures: string[]): void {
  if (failures.length >= 20) return;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      failures.push(`at ${path || "/"}: expected an array, got ${preview(actual)}`);
      return;
    }
    if (actual.length !== expected.length) {
      failures.push(`at ${path || "/"}: expected ${expected.length} items, got ${actual.length}`);
      return;
    }
    expected.forEach((item, index) => {
      matchSubset(item, actual[index], `${path}/${index}`, failures);
    });
    return;
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) {
      failures.push(`at ${path || "/"}: expected an object, got ${preview(actual)}`);
      return;
    }
    for (const [key, value] of Object.entries(expected)) {
      const childPath = `${path}/${key}`;
      if (!Object.hasOwn(actual, key)) failures.push(`at ${childPath}: missing (expected ${preview(value)})`);
      else matchSubset(value, (actual as Record<string, unknown>)[key], childPath, failures);
    }
    return;
  }
  if (!deepEqual(actual, expected))
    failures.push(`at ${path || "/"}: expected ${preview(expected)}, got ${preview(actual)}`);
}

/** Resolves a dotted path or JSON Pointer; `found` is false when any step is missing. */
export function resolvePath(value: unknown, path: string): { found: boolean; value: unknown } {
  const steps = splitPath(path);
  let current = value;
  for (const step of steps) {
    if (Array.isArray(current) && /^\d+$/.test(step) && Number(step) < current.length) {
      current = current[Number(step)];
    } else if (
      typeof current === "object" &&
      current !== null &&
      !Array.isArray(current) &&
      Object.hasOwn(current, step)
    ) {
      current = (current as Record<string, unknown>)[step];
    } else {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value: current };
}

function splitPath(path: string): string[] {
  if (path === "" || path === "/" || path === "$") return [];
  if (path.startsWith("/")) {
    return path
      .slice(1)
      .split("/")
      .map((step) => step.replace(/~1/g, "/").replace(/~0/g, "~"));
  }
  return path
    .replace(/^\$\.?/, "")
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/\["([^"]*)"\]/g, ".$1")
    .split(".")
    .filter((step) => step.length > 0);
}

function runCheck(check: ToolCheck, output: unknown): string | undefined {
  const where = `at ${check.path || "/"}`;
  const { found, value } = resolvePath(output, check.path);
  if (check.op === CheckOp.exists) return found ? undefined : `${where}: expected to exist`;
  if (check.op === CheckOp.notExists)
    return found ? `${where}: expected not to exist, got ${preview(value)}` : undefined;
  if (!found) return `${where}: missing`;
  const expected = check.value;
  const got = `got ${preview(value)}`;
  switch (check.op) {
    case CheckOp.equals:
      return deepEqual(value, expected) ? undefined : `${where}: expected ${preview(expected)}, ${got}`;
    case CheckOp.notEquals:
      return deepEqual(value, expected) ? `${where}: expected anything but ${preview(expected)}` : undefined;
    case CheckOp.approx: {
      if (typeof value !== "number" || typeof expected !== "number")
        return `${where}: approx needs numbers, ${got}`;
      const tolerance = check.tolerance ?? Math.max(1e-9, Math.abs(expected) * 1e-9);
      return Math.abs(value - expected) <= tolerance
        ? undefined
        : `${where}: expected ${expected} ± ${tolerance}, ${got}`;
    }
    case CheckOp.gt:
    case CheckOp.gte:
    case CheckOp.lt:
    case CheckOp.lte: {
      if (typeof value !== "number" || typeof expected !== "number")
        return `${where}: ${check.op} needs numbers, ${got}`;
      const ok =
        check.op === CheckOp.gt
          ? value > expected
          : check.op === CheckOp.gte
            ? value >= expected
            : check.op === CheckOp.lt
              ? value < expected
              : value <= expected;
      return ok ? undefined : `${where}: expected ${check.op} ${expected}, ${got}`;
    }
    case CheckOp.contains:
    case CheckOp.notContains: {
      let contains: boolean;
      if (typeof value === "string" && typeof expected === "string") contains = value.includes(expected);
      else if (Array.isArray(value)) contains = value.some((item) => subsetMatches(expected, item));
      else return `${where}: ${check.op} needs a string or an array, ${got}`;
      if (check.op === CheckOp.contains)
        return contains ? undefined : `${where}: expected to contain ${preview(expected)}, ${got}`;
      return contains ? `${where}: expected not to contain ${preview(expected)}, ${got}` : undefined;
    }
    case CheckOp.matches: {
      if (typeof value !== "string" || typeof expected !== "string")
        return `${where}: matches needs a string, ${got}`;
      // The pattern passed checkPattern at parse time; bound the subject too.
      return linearRegExp(expected).test(value.slice(0, 100_000))
        ? undefined
        : `${where}: expected to match /${expected}/, ${got}`;
    }
    case CheckOp.type: {
      const actualType = jsonType(value);
      const ok = actualType === expected || (expected === "number" && actualType === "integer");
      return ok ? undefined : `${where}: expected type ${String(expected)}, got ${actualType}`;
    }
    case CheckOp.length:
    case CheckOp.minLength:
    case CheckOp.maxLength: {
      const length = typeof value === "string" || Array.isArray(value) ? value.length : undefined;
      if (length === undefined || typeof expected !== "number")
        return `${where}: ${check.op} needs a string or array, ${got}`;
      const ok =
        check.op === CheckOp.length
          ? length === expected
          : check.op === CheckOp.minLength
            ? length >= expected
            : length <= expected;
      return ok ? undefined : `${where}: expected ${check.op} ${expected}, got length ${length}`;
    }
    case CheckOp.oneOf:
      if (!Array.isArray(expected)) return `${where}: one_of needs an array value`;
      return expected.some((item) => deepEqual(value, item))
        ? undefined
        : `${where}: expected one of ${preview(expected)}, ${got}`;
    default:
      return `${where}: unknown op ${String(check.op)}`;
  }
}

function subsetMatches(expected: unknown, actual: unknown): boolean {
  const failures: string[] = [];
  matchSubset(expected, actual, "", failures);
  return failures.length === 0;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** Deep equality for JSON values; numbers compare within 1e-9 relative (float noise). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") {
    return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && !Array.isArray(b)) {
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    return (
      keysA.length === keysB.length &&
      keysA.every(
        (key) =>
          Object.hasOwn(b, key) &&
          deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
      )
    );
  }
  return false;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? "undefined";
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function isJson(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  if (typeof value === "object") {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return false;
    return Object.values(value).every((item) => isJson(item, depth + 1));
  }
  return false;
}
