import { readJsonFile } from "@insitu/config";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { z } from "zod";
import {
  type ScriptedModel,
  type ScriptedReply,
  type ScriptedStep,
  createScriptedModel,
} from "./scripted.js";

/**
 * Scenario files: a readable JSON script of what each role's FAKE (scripted) model answers.
 *
 * ```json
 * {
 *   "description": "A first question creates a tool",
 *   "roles": {
 *     "manager": [
 *       { "note": "plan", "when": { "lastMessageContains": "population" },
 *         "reply": { "json": { "action": "request_tool", "name": "parse_csv" } } }
 *     ],
 *     "tool-developer": [ { "reply": { "textFile": "tools/parse-csv.ts" } } ],
 *     "executor": {
 *       "steps": [ { "reply": { "toolCalls": [ { "name": "parse_csv", "arguments": { "text": "a,b" } } ] } } ],
 *       "rules": [ { "when": { "structured": true }, "reply": { "json": { "done": true } } } ]
 *     }
 *   }
 * }
 * ```
 *
 * A reply is a string, or an object with `text` (string or array of lines), `textFile` (path
 * relative to the scenario file), `json`, `toolCalls`, `finishReason`, `usage`, `error`.
 */
const whenSchema = z
  .object({
    systemContains: z.string().optional(),
    lastMessageContains: z.string().optional(),
    anyMessageContains: z.string().optional(),
    hasTool: z.string().optional(),
    structured: z.boolean().optional(),
  })
  .strict();

const replyObjectSchema = z
  .object({
    text: z.union([z.string(), z.array(z.string())]).optional(),
    textFile: z.string().optional(),
    json: z.unknown().optional(),
    toolCalls: z
      .array(
        z
          .object({
            name: z.string(),
            arguments: z.record(z.string(), z.unknown()).optional(),
            id: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
    finishReason: z.enum(["stop", "length", "tool-calls", "safety", "error", "other"]).optional(),
    usage: z
      .object({ inputTokens: z.number(), outputTokens: z.number(), cachedTokens: z.number() })
      .partial()
      .strict()
      .optional(),
    reasoning: z.string().optional(),
    error: z
      .object({
        code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
        message: z.string().optional(),
        retryable: z.boolean().optional(),
        category: z.enum(["user", "system", "third-party"]).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
const replySchema = z.union([z.string(), replyObjectSchema]);
const stepSchema = z
  .object({ when: whenSchema.optional(), reply: replySchema, note: z.string().optional() })
  .strict();
const ruleSchema = z.object({ when: whenSchema, reply: replySchema, note: z.string().optional() }).strict();
const roleScriptSchema = z.union([
  z.array(stepSchema),
  z.object({ steps: z.array(stepSchema).optional(), rules: z.array(ruleSchema).optional() }).strict(),
]);

export const scenarioFileSchema = z
  .object({
    $comment: z.string().optional(),
    description: z.string(),
    roles: z.record(z.string(), roleScriptSchema),
  })
  .strict();
export type ScenarioFile = z.infer<typeof scenarioFileSchema>;

export interface Scenario {
  description: string;
  /** One scripted (fake) model per role named in the file. */
  models: Record<string, ScriptedModel>;
  /** The role's scripted model; throws INVALID_CONFIG when the scenario has none for it. */
  model(role: string): ScriptedModel;
}

/** Reads and validates a scenario file; errors name the file and the bad fields. */
export function loadScenario(path: string): Scenario {
  const json = readJsonFile(path, "scenario file");
  return parseScenario(json, dirname(resolve(path)), path);
}

/** Builds a scenario from already-parsed JSON; `baseDir` resolves `textFile` paths. */
export function parseScenario(json: unknown, baseDir = process.cwd(), source = "scenario"): Scenario {
  const parsed = scenarioFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new InsituError(
      `${source} is not a valid scenario: ${parsed.error.issues
        .slice(0, 5)
        .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
        .join("; ")}`,
      { code: ErrorCode.invalidConfig, category: ErrorCategory.user },
    );
  }
  const models: Record<string, ScriptedModel> = {};
  for (const [role, script] of Object.entries(parsed.data.roles)) {
    const steps = (Array.isArray(script) ? script : (script.steps ?? [])).map(
      (step): ScriptedStep => ({ ...step, reply: readReply(step.reply, baseDir) }),
    );
    const rules = Array.isArray(script)
      ? []
      : (script.rules ?? []).map((rule) => ({ ...rule, reply: readReply(rule.reply, baseDir) }));
    models[role] = createScriptedModel({ steps, rules, model: `scripted-${role}` });
  }
  return {
    description: parsed.data.description,
    models,
    model(role: string) {
      const model = models[role];
      if (!model) {
        throw new InsituError(`${source} has no script for role "${role}"`, {
          code: ErrorCode.invalidConfig,
          category: ErrorCategory.user,
          details: { role, roles: Object.keys(models) },
        });
      }
      return model;
    },
  };
}

function readReply(reply: z.infer<typeof replySchema>, baseDir: string): ScriptedReply {
  if (typeof reply === "string") return reply;
  const { textFile, ...rest } = reply;
  if (textFile === undefined) return rest as ScriptedReply;
  const path = resolve(baseDir, textFile);
  try {
    return { ...rest, text: readFileSync(path, "utf8") } as ScriptedReply;
  } catch (error) {
    throw new InsituError(`scenario reply file ${path} cannot be read`, {
      code: ErrorCode.invalidConfig,
      category: ErrorCategory.user,
      cause: error,
    });
  }
}
