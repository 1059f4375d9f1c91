import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ErrorCategory } from "@insitu/errors";
import { Cassette, type CassetteEntry, recordingModel, replayModel } from "./cassette.js";
import { LlmErrorCode, llmError } from "./errors.js";
import type { LanguageModel } from "./types.js";

/**
 * Record and replay for a whole running stack (ADR 0064). With `INSITU_RECORD_DIR` every role's
 * model exchanges (answers and typed errors, API keys scrubbed) are written to
 * `<dir>/<role>-<pid>-<random>.json`, one file per process; with `INSITU_REPLAY_DIR` each role
 * answers from every `<role>-*.json` file there, so a live run becomes an offline regression.
 */
export const CassetteEnv = { recordDir: "INSITU_RECORD_DIR", replayDir: "INSITU_REPLAY_DIR" } as const;

/** Values of environment variables that look like secrets (scrubbed from recordings). */
export function secretValues(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([name, value]) => /(KEY|TOKEN|SECRET|PASSWORD)$/i.test(name) && value && value.length >= 8)
    .map(([, value]) => value as string);
}

/** The replay model for `role` from the cassettes in `dir`; LLM_NOT_CONFIGURED when there are none. */
export function replayForRole(
  dir: string,
  role: string,
  env: Record<string, string | undefined> = {},
): LanguageModel {
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.startsWith(`${role}-`) && name.endsWith(".json"))
        .sort()
    : [];
  if (files.length === 0) {
    throw llmError(
      LlmErrorCode.notConfigured,
      `${CassetteEnv.replayDir}=${dir} holds no recording for role "${role}" (expected ${role}-*.json); record one with ${CassetteEnv.recordDir}`,
      { category: ErrorCategory.user, details: { dir, role } },
    );
  }
  const entries: CassetteEntry[] = [];
  for (const file of files) entries.push(...Cassette.load(join(dir, file)).entries);
  entries.sort((a, b) => a.recordedAt.localeCompare(b.recordedAt));
  return replayModel(new Cassette(entries), { secrets: secretValues(env) });
}

/** `model` recording every exchange into a new file of `dir`. */
export function recordForRole(
  model: LanguageModel,
  dir: string,
  role: string,
  env: Record<string, string | undefined> = {},
): LanguageModel {
  const path = join(dir, `${role}-${process.pid}-${randomBytes(3).toString("hex")}.json`);
  return recordingModel(model, new Cassette(), { path, secrets: secretValues(env) });
}
