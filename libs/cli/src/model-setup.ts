/**
 * Whether a model is configured for the roles, judged from the environment the services get.
 * The variable names are the ones libs/llm reads; the message says exactly what to set.
 */
export type ModelSetup =
  | { configured: true; provider: "gemini" | "openai-compatible" | "scripted"; description: string }
  | { configured: false; message: string };

export const MODEL_ENV = {
  geminiKey: "GEMINI_API_KEY",
  openAiBaseUrl: "OPENAI_BASE_URL",
  openAiKey: "OPENAI_API_KEY",
  model: "INSITU_MODEL",
  script: "INSITU_SCRIPT",
} as const;

export function detectModelSetup(env: Record<string, string | undefined>): ModelSetup {
  if (env[MODEL_ENV.script]) {
    return {
      configured: true,
      provider: "scripted",
      description: `scripted model (${env[MODEL_ENV.script]})`,
    };
  }
  if (env[MODEL_ENV.geminiKey]) {
    return {
      configured: true,
      provider: "gemini",
      description: `Gemini${env[MODEL_ENV.model] ? ` (${env[MODEL_ENV.model]})` : ""}`,
    };
  }
  if (env[MODEL_ENV.openAiBaseUrl]) {
    return {
      configured: true,
      provider: "openai-compatible",
      description: `OpenAI-compatible endpoint ${env[MODEL_ENV.openAiBaseUrl]}${env[MODEL_ENV.model] ? ` (${env[MODEL_ENV.model]})` : ""}`,
    };
  }
  return { configured: false, message: NO_MODEL_MESSAGE };
}

export const NO_MODEL_MESSAGE = [
  "No model is configured, so insitu cannot answer questions yet. Set ONE of these where you run `insitu up`:",
  "",
  `  export ${MODEL_ENV.geminiKey}=<your key>                     # Google Gemini (the default provider)`,
  "",
  "  or an OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenRouter):",
  `  export ${MODEL_ENV.openAiBaseUrl}=http://127.0.0.1:11434/v1    # its base URL`,
  `  export ${MODEL_ENV.model}=<model name>                        # the model it serves`,
  `  export ${MODEL_ENV.openAiKey}=<key>                          # only if the endpoint needs one`,
  "",
  "then restart `insitu up`. To watch the whole loop offline with a scripted model: insitu demo",
].join("\n");
