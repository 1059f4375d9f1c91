import { createHash } from "node:crypto";
import { Accountant, createEmbeddingModelForRole, loadModelsConfig } from "@insitu/llm";
import type { Logger } from "@insitu/telemetry";
import type { Registry as MetricsRegistry } from "prom-client";
import { tokenize } from "./tokenize.js";

/**
 * Where vectors come from. `@insitu/llm`'s EmbeddingModel fits this shape directly (model,
 * dimensions, embed(texts) → number[][]), so main.ts passes one when an embedding model is
 * configured; without one, retrieval is lexical only.
 */
export interface EmbeddingProvider {
  /** Recorded with every stored vector, so a model change re-embeds instead of mixing spaces. */
  readonly model: string;
  readonly dimensions: number;
  embed(texts: string[]): Promise<number[][]>;
}

/**
 * An offline embedder by random indexing: every token (and adjacent token pair) owns a fixed
 * pseudo-random ±1 vector derived from its hash, and a text's vector is the sum of its features'
 * vectors. Cosine similarity then approximates bag-of-words overlap, and the vectors are dense like
 * a real model's. It is NOT a semantic model — it only knows surface words — and exists so the
 * hybrid path runs offline in tests, demos and the bench with real vector arithmetic at a realistic
 * dimension. Deterministic across processes.
 */
export class HashingEmbedder implements EmbeddingProvider {
  readonly model: string;
  private readonly features = new Map<string, Int8Array>();

  constructor(readonly dimensions = 768) {
    this.model = `random-indexing-${dimensions}`;
  }

  async embed(texts: string[]): Promise<number[][]> {
    return texts.map((text) => this.embedOne(text));
  }

  embedOne(text: string): number[] {
    const vector = new Array<number>(this.dimensions).fill(0);
    const tokens = tokenize(text);
    const features = [...tokens, ...tokens.slice(1).map((token, index) => `${tokens[index]}_${token}`)];
    for (const feature of features) {
      const signs = this.featureVector(feature);
      for (let index = 0; index < this.dimensions; index++)
        vector[index] = (vector[index] ?? 0) + (signs[index] ?? 0);
    }
    return vector;
  }

  private featureVector(feature: string): Int8Array {
    let signs = this.features.get(feature);
    if (signs) return signs;
    let state = createHash("sha256").update(feature).digest().readUInt32LE(0) || 1;
    signs = new Int8Array(this.dimensions);
    for (let index = 0; index < this.dimensions; index++) {
      // xorshift32: a fixed stream of signs per feature
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      signs[index] = state & 1 ? 1 : -1;
    }
    if (this.features.size < 100_000) this.features.set(feature, signs);
    return signs;
  }
}

/** Where a service's vectors come from (`REGISTRY_EMBEDDINGS`, `EVOLVER_EMBEDDINGS`). */
export type EmbeddingsMode = "auto" | "off" | "hashing";

/**
 * The embedder a service uses, chosen the same way everywhere: `auto` takes the `embedding` role
 * of the models config (insitu.models.json / GEMINI_API_KEY / INSITU_OPENAI_BASE_URL) and gives
 * undefined (lexical only) when none is configured; `off` gives undefined; `hashing` the offline
 * feature-hashing embedder. A configured model is metered (insitu_llm_* with the given role) like a
 * generation.
 */
export function chooseEmbeddings(
  mode: EmbeddingsMode,
  options: {
    logger: Logger;
    metrics: MetricsRegistry;
    role: string;
    /** Where the models config and provider variables are read (default: process.env). */
    env?: Record<string, string | undefined>;
  },
): EmbeddingProvider | undefined {
  if (mode === "off") return undefined;
  if (mode === "hashing") return new HashingEmbedder();
  const env = options.env ?? process.env;
  try {
    const accountant = new Accountant({
      registry: options.metrics,
      trackUnstartedTasks: false,
      maxRecords: 100,
    });
    return accountant.wrapEmbedding(createEmbeddingModelForRole(loadModelsConfig(undefined, env), env), {
      role: options.role,
    });
  } catch (error) {
    options.logger.info("no embedding model configured; similarity is lexical only", {
      role: options.role,
      reason: (error as Error).message.split("\n")[0],
    });
    return undefined;
  }
}
