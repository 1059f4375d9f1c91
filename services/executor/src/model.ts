import { type LanguageModel, LlmErrorCode, llmError } from "@insitu/llm";
import { loadScenario } from "@insitu/llm/testing";

/**
 * The role's model: the FAKE scripted model when a scenario file is given (tests and
 * `insitu demo`), else the configured provider.
 */
export function modelForRole(role: string, scriptPath: string | undefined): LanguageModel {
  if (scriptPath) return loadScenario(scriptPath).model(role);
  throw llmError(
    LlmErrorCode.notConfigured,
    `no model is configured for role "${role}": set GEMINI_API_KEY (or an OpenAI-compatible endpoint in the model config), or INSITU_SCRIPT to a scenario file for a scripted run`,
    { category: "user" },
  );
}
