import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import type { GenerateRequest, LanguageModel } from "@insitu/llm";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";

/**
 * Simulated model latency for the FAKE scripted model — benches only (test/bench/scale,
 * test/bench/batch), so scaling a role or batching tasks shows what it would with a real, slow
 * model. Set on a role service:
 *
 * - `INSITU_SCRIPT_LATENCY_MS`: `300` (every call waits 300 ms) or `1000-3000` (each call waits
 *   between 1000 and 3000 ms, inclusive);
 * - `INSITU_SCRIPT_LATENCY_SEED`: seed of a range's draws (default `0`). A call's wait is a hash of
 *   the seed, the role and the request's text, so the same request waits the same time in every
 *   run and replica whatever order calls arrive in;
 * - `INSITU_SCRIPT_LATENCY_LOG`: a file each wait is appended to as one JSON line
 *   `{"role","start","end"}` (epoch ms), so a bench can tell time spent waiting on the model from
 *   the framework's own time.
 */
export interface ScriptLatency {
  minMs: number;
  maxMs: number;
  seed: string;
  log?: string;
}

export const SCRIPT_LATENCY_ENV = {
  ms: "INSITU_SCRIPT_LATENCY_MS",
  seed: "INSITU_SCRIPT_LATENCY_SEED",
  log: "INSITU_SCRIPT_LATENCY_LOG",
} as const;

/** The latency the environment asks for; undefined for none; INVALID_CONFIG for a bad value. */
export function scriptLatencyFromEnv(env: NodeJS.ProcessEnv): ScriptLatency | undefined {
  const raw = env[SCRIPT_LATENCY_ENV.ms]?.trim();
  if (!raw) return undefined;
  const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(raw);
  const minMs = Number(match?.[1]);
  const maxMs = match?.[2] === undefined ? minMs : Number(match[2]);
  if (!match || maxMs < minMs) {
    throw new InsituError(
      `${SCRIPT_LATENCY_ENV.ms}=${raw}: expected milliseconds ("300") or a range "min-max" with min <= max ("1000-3000")`,
      { code: ErrorCode.invalidConfig, category: ErrorCategory.user },
    );
  }
  if (maxMs === 0) return undefined;
  const log = env[SCRIPT_LATENCY_ENV.log]?.trim();
  return { minMs, maxMs, seed: env[SCRIPT_LATENCY_ENV.seed]?.trim() || "0", ...(log ? { log } : {}) };
}

/** The wait of one call: a pure function of the seed, the role and the request's text. */
export function latencyOf(latency: ScriptLatency, role: string, request: GenerateRequest): number {
  if (latency.maxMs === latency.minMs) return latency.minMs;
  const { signal: _signal, ...content } = request;
  const digest = createHash("sha256")
    .update(`${latency.seed}\0${role}\0${JSON.stringify(content)}`)
    .digest();
  return latency.minMs + (digest.readUInt32BE(0) % (latency.maxMs - latency.minMs + 1));
}

/** The model, each call delayed by its simulated latency (and logged when asked). */
export function withScriptLatency(
  model: LanguageModel,
  role: string,
  latency: ScriptLatency | undefined,
): LanguageModel {
  if (!latency) return model;
  const wait = async (request: GenerateRequest) => {
    const start = Date.now();
    await new Promise((resolve) => setTimeout(resolve, latencyOf(latency, role, request)));
    if (latency.log) appendFileSync(latency.log, `${JSON.stringify({ role, start, end: Date.now() })}\n`);
  };
  return {
    provider: model.provider,
    model: model.model,
    generate: async (request) => {
      await wait(request);
      return model.generate(request);
    },
    async *stream(request) {
      await wait(request);
      yield* model.stream(request);
    },
  };
}
