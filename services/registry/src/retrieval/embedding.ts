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
 * A feature-hashing embedder: each token (and each adjacent token pair) adds ±1 to a dimension
 * chosen by its hash. It is NOT a semantic model — it only knows surface words — and exists so the
 * hybrid path can run offline in tests and in the bench with real vector arithmetic of a realistic
 * dimension. Deterministic across processes.
 */
export class HashingEmbedder implements EmbeddingProvider {
  readonly model: string;
  constructor(readonly dimensions = 768) {
    this.model = `feature-hashing-${dimensions}`;
  }

  async embed(texts: string[]): Promise<number[][]> {
    return texts.map((text) => this.embedOne(text));
  }

  embedOne(text: string): number[] {
    const vector = new Array<number>(this.dimensions).fill(0);
    const tokens = tokenize(text);
    const features = [...tokens, ...tokens.slice(1).map((token, index) => `${tokens[index]}_${token}`)];
    for (const feature of features) {
      const digest = createHash("md5").update(feature).digest();
      const slot = digest.readUInt32LE(0) % this.dimensions;
      vector[slot] = (vector[slot] ?? 0) + ((digest[4] ?? 0) & 1 ? 1 : -1);
    }
    return vector;
  }
}
