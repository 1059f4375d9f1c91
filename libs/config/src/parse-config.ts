import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import type { z } from "zod";

/**
 * Parses configuration once, at start-up. Explicit values beat the environment; an error names
 * every variable that is wrong and what it expected, so an operator fixes them all in one go.
 *
 * Schemas are written against env-style keys (`NATS_URL`, `HTTP_PORT`) and use `z.coerce` for
 * numbers and booleans.
 */
export function parseConfig<Schema extends z.ZodType>(
  schema: Schema,
  env: Record<string, string | undefined> = process.env,
  explicit: Record<string, unknown> = {},
): z.infer<Schema> {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== "") input[key] = value;
  Object.assign(input, explicit);
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const variable = issue.path.map(String).join(".") || "(config)";
    return { variable, expected: issue.message, received: redact(variable, input[variable]) };
  });
  throw new InsituError(
    `invalid configuration: ${problems.map((problem) => `${problem.variable}: ${problem.expected}`).join("; ")}`,
    { code: ErrorCode.invalidConfig, category: ErrorCategory.user, details: { problems } },
  );
}

/** Secrets never appear in an error: anything named like a key, token or password is redacted. */
function redact(variable: string, value: unknown): string | null {
  if (value === undefined) return null;
  if (/KEY|TOKEN|SECRET|PASSWORD/i.test(variable)) return "[redacted]";
  return String(value).slice(0, 200);
}
