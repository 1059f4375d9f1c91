import { type JsonSchema, zodToJsonSchema } from "@insitu/llm";
import type { z } from "zod";

/**
 * The JSON Schema sent to the provider for structured output: zod's, minus the keywords that
 * providers' schema subsets reject or misread (`propertyNames`, which zod emits for every record,
 * and `$schema`). zod still validates the answer in full, and its errors go back to the model.
 */
export function responseSchemaFor(schema: z.ZodType): JsonSchema {
  return strip(zodToJsonSchema(schema)) as JsonSchema;
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== "object") return value;
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === "propertyNames" || key === "$schema") continue;
    result[key] = strip(item);
  }
  return result;
}
