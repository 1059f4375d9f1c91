import { isInsituError } from "@insitu/errors";
import { loadModelsConfig, notConfiguredError, resolveRoleSettings } from "@insitu/llm";

/**
 * Whether the roles have a model, judged the way the services judge it (libs/llm's models config:
 * `insitu.models.json` in the repo root, else GEMINI_API_KEY / INSITU_OPENAI_BASE_URL), so the
 * message the CLI prints is exactly what the services would need.
 */
export type ModelSetup =
  | { configured: true; provider: string; description: string }
  | { configured: false; message: string };

/** The instruction printed when nothing is configured (libs/llm's own wording). */
export const NO_MODEL_MESSAGE = notConfiguredError("manager").message;

export function detectModelSetup(
  env: Record<string, string | undefined>,
  cwd: string = process.cwd(),
): ModelSetup {
  if (env.INSITU_SCRIPT) {
    return { configured: true, provider: "scripted", description: `scripted model (${env.INSITU_SCRIPT})` };
  }
  try {
    const settings = resolveRoleSettings(loadModelsConfig(undefined, env, cwd), "manager", env);
    return {
      configured: true,
      provider: settings.provider,
      description: `${settings.provider} ${settings.model}${settings.baseUrl ? ` at ${settings.baseUrl}` : ""}`,
    };
  } catch (error) {
    if (isInsituError(error)) return { configured: false, message: error.message };
    throw error;
  }
}
