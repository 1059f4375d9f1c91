import { createHash } from "node:crypto";
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
