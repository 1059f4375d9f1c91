import { z } from "zod";

/**
 * How a member's input becomes the merged tool's input — declared by the merge as plain data (no
 * code), checked by the reviewer, and applied to every member test and recorded call it replays.
 * Fields not named in `rename` keep their name; `constants` are added (e.g. `{mode: "words"}`).
 */
export const InputMappingSchema = z
  .object({
    member: z.string().min(1).max(64),
    rename: z.record(z.string(), z.string()).default({}),
    constants: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type InputMapping = z.infer<typeof InputMappingSchema>;

export function applyMapping(mapping: Pick<InputMapping, "rename" | "constants">, input: unknown): unknown {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return input;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) result[mapping.rename[key] ?? key] = value;
  for (const [key, value] of Object.entries(mapping.constants)) result[key] = value;
  return result;
}

/**
 * Problems with a declared mapping, empty when it is sound: every field it produces must exist in
 * the merged input schema, every member field must land somewhere, and every field the merged tool
 * requires must be produced.
 */
export function mappingProblems(
  mapping: Pick<InputMapping, "rename" | "constants">,
  memberSchema: Record<string, unknown>,
  mergedSchema: Record<string, unknown>,
): string[] {
  const problems: string[] = [];
  const memberFields = Object.keys((memberSchema.properties as Record<string, unknown> | undefined) ?? {});
  const mergedFields = new Set(
    Object.keys((mergedSchema.properties as Record<string, unknown> | undefined) ?? {}),
  );
  const produced = new Set<string>();
  for (const field of memberFields) {
    const target = mapping.rename[field] ?? field;
    produced.add(target);
    if (!mergedFields.has(target))
      problems.push(`member field "${field}" maps to "${target}", which the merged tool does not take`);
  }
  for (const field of Object.keys(mapping.rename)) {
    if (!memberFields.includes(field))
      problems.push(`rename names "${field}", which the member does not take`);
  }
  for (const field of Object.keys(mapping.constants)) {
    produced.add(field);
    if (!mergedFields.has(field)) problems.push(`constant "${field}" is not a field of the merged tool`);
  }
  const required = Array.isArray(mergedSchema.required) ? (mergedSchema.required as string[]) : [];
  for (const field of required) {
    if (!produced.has(field))
      problems.push(`the merged tool requires "${field}", which the mapping never sets`);
  }
  return problems;
}
