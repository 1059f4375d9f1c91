import {
  Accountant,
  CassetteEnv,
  type GenerateRequest,
  type LanguageModel,
  type ModelPrice,
  type ModelRole,
  type RateLimitGate,
  type Usage,
  costOf,
  createModelForRole,
  loadModelsConfig,
  loadScenario,
  recordForRole,
  recordRoleModel,
  replayForRole,
  resolveRoleSettings,
  withCallDeadline,
  withModelSpans,
} from "@insitu/llm";
import type { Registry } from "prom-client";
import { scriptLatencyFromEnv, withScriptLatency } from "./script-latency.js";

export interface RoleModel {
  model: LanguageModel;
  /** USD for a call's usage at the role's configured prices (0 when none are known). */
  costOf(usage: Usage): number;
}

export interface RoleModelOptions {
  /** The service's metrics registry: `insitu_llm_*` series for this role are registered there. */
  metrics?: Registry;
  /** Rate-limit cooldowns shared by the role's replicas (see busRateLimitGate). */
  gate?: RateLimitGate;
}

/**
 * The role's model. With a scenario file (`INSITU_SCRIPT`, tests and `insitu demo`) it is the
 * FAKE scripted model; with `INSITU_REPLAY_DIR` it answers from recorded cassettes; otherwise the
 * provider from insitu.models.json / the environment (recorded when `INSITU_RECORD_DIR` is set).
 * When no model is configured the service still starts, and every call fails with
 * LLM_NOT_CONFIGURED saying exactly what to set — so the task ends `failed` with that message
 * instead of the service crashing at boot.
 *
 * Every call runs on its own signal bounded by the request's deadline (no listener accumulates
 * on a consumer's signal), and is counted on the service's metrics: calls, tokens by kind, cost,
 * latency, errors by code and retries, per provider/model/role — failed calls' usage included.
 */
export function modelForRole(
  role: Exclude<ModelRole, "embedding">,
  scriptPath: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  options: RoleModelOptions = {},
): RoleModel {
  const accountant = new Accountant({
    ...(options.metrics ? { registry: options.metrics } : {}),
    trackUnstartedTasks: false,
    maxRecords: 100,
  });
  let base: LanguageModel;
  let prices: ModelPrice | undefined;
  const replayDir = env[CassetteEnv.replayDir];
  if (replayDir) {
    try {
      base = replayForRole(replayDir, role, env);
    } catch (error) {
      base = failingModel(error);
    }
  } else if (scriptPath) {
    // Simulated model latency for benches (FAKE model only): INSITU_SCRIPT_LATENCY_MS, a fixed
    // wait or a seeded range per call (see script-latency.ts).
    // A scenario that scripts no answers for this role still lets the service start (a stack runs
    // every role, a scenario scripts the ones it exercises); its calls fail saying which role is
    // missing. A scenario file that does not load still fails at boot.
    const scenario = loadScenario(scriptPath);
    let scripted: LanguageModel;
    try {
      scripted = scenario.model(role);
    } catch (error) {
      scripted = failingModel(error);
    }
    base = withModelSpans(withScriptLatency(scripted, role, scriptLatencyFromEnv(env)), role);
  } else {
    try {
      const config = loadModelsConfig(undefined, env);
      const settings = resolveRoleSettings(config, role, env);
      prices = settings.prices;
      base = createModelForRole(config, role, env, {
        ...(options.gate ? { gate: options.gate } : {}),
        onRetry: accountant.retryObserver({ provider: settings.provider, model: settings.model, role }),
      });
    } catch (error) {
      base = failingModel(error);
    }
  }
  // What this role runs on, for `insitu status` / `ask` (through the service's $SRV status).
  if (options.metrics) {
    recordRoleModel(options.metrics, {
      role,
      provider: base.provider,
      model: base.model,
      configured: base.provider !== UNCONFIGURED,
    });
  }
  const recordDir = env[CassetteEnv.recordDir];
  if (recordDir && !replayDir) base = recordForRole(base, recordDir, role, env);
  const model = accountant.wrap(withCallDeadline(base), { role, ...(prices ? { prices } : {}) });
  return { model, costOf: (usage) => (prices ? costOf(usage, prices) : 0) };
}

const UNCONFIGURED = "unconfigured";

function failingModel(error: unknown): LanguageModel {
  const fail = async (_request: GenerateRequest): Promise<never> => {
    throw error;
  };
  return {
    provider: UNCONFIGURED,
    model: "none",
    generate: fail,
    // biome-ignore lint/correctness/useYield: it only throws
    async *stream(request) {
      await fail(request);
    },
  };
}
