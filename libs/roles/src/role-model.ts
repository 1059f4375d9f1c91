import {
  type GenerateRequest,
  type LanguageModel,
  type ModelRole,
  type Usage,
  costOf,
  createModelForRole,
  loadModelsConfig,
  resolveRoleSettings,
  withModelSpans,
} from "@insitu/llm";
import { loadScenario } from "@insitu/llm/testing";

export interface RoleModel {
  model: LanguageModel;
  /** USD for a call's usage at the role's configured prices (0 when none are known). */
  costOf(usage: Usage): number;
}

/**
 * The role's model. With a scenario file (`INSITU_SCRIPT`, tests and `insitu demo`) it is the
 * FAKE scripted model; otherwise the provider from insitu.models.json / the environment. When no
 * model is configured the service still starts, and every call fails with LLM_NOT_CONFIGURED
 * saying exactly what to set — so the task ends `failed` with that message instead of the
 * service crashing at boot.
 */
export function modelForRole(
  role: Exclude<ModelRole, "embedding">,
  scriptPath: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): RoleModel {
  if (scriptPath) {
    const scripted = withLatency(
      loadScenario(scriptPath).model(role),
      Number(env.INSITU_SCRIPT_LATENCY_MS ?? 0),
    );
    return { model: withModelSpans(scripted, role), costOf: () => 0 };
  }
  try {
    const config = loadModelsConfig(undefined, env);
    const settings = resolveRoleSettings(config, role, env);
    return {
      model: createModelForRole(config, role, env),
      costOf: (usage) => costOf(usage, settings.prices),
    };
  } catch (error) {
    return { model: failingModel(error), costOf: () => 0 };
  }
}

function failingModel(error: unknown): LanguageModel {
  const fail = async (_request: GenerateRequest): Promise<never> => {
    throw error;
  };
  return {
    provider: "unconfigured",
    model: "none",
    generate: fail,
    // biome-ignore lint/correctness/useYield: it only throws
    async *stream(request) {
      await fail(request);
    },
  };
}

/**
 * Simulated model latency for the FAKE scripted model (INSITU_SCRIPT_LATENCY_MS, benches only:
 * test/bench/scale), so scaling a role shows what it would with a real, slow model.
 */
function withLatency(model: LanguageModel, latencyMs: number): LanguageModel {
  if (!Number.isFinite(latencyMs) || latencyMs <= 0) return model;
  const wait = () => new Promise((resolve) => setTimeout(resolve, latencyMs));
  return {
    provider: model.provider,
    model: model.model,
    generate: async (request) => {
      await wait();
      return model.generate(request);
    },
    async *stream(request) {
      await wait();
      yield* model.stream(request);
    },
  };
}
