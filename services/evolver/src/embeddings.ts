import { type ClusterCandidate, DEFAULT_EMBEDDING_THRESHOLD, clusterText } from "./cluster.js";

/** What the evolver needs of an embedder (`@insitu/llm`'s EmbeddingModel and the registry's HashingEmbedder fit). */
export interface ClusterEmbedder {
  /** Part of the cache key, so a model change re-embeds instead of mixing spaces. */
  readonly model: string;
  embed(texts: string[]): Promise<number[][]>;
}

/** Texts per embedding request (Gemini's batchEmbedContents takes at most 100). */
const BATCH = 100;

/**
 * Embeddings of clustering candidates, cached by version hash: a version is immutable, so the
 * library is embedded once per process and each barrier embeds only its new tools.
 */
export class CandidateVectors {
  readonly threshold: number;
  private readonly cache = new Map<string, number[]>();
  private readonly maxCached: number;

  constructor(
    private readonly embedder: ClusterEmbedder,
    options: { threshold?: number; maxCached?: number } = {},
  ) {
    this.threshold = options.threshold ?? DEFAULT_EMBEDDING_THRESHOLD;
    this.maxCached = options.maxCached ?? 20_000;
  }

  get model(): string {
    return this.embedder.model;
  }

  /** Vectors by hash for every candidate; throws when the embedder does (the caller falls back to lexical). */
  async vectors(candidates: ClusterCandidate[]): Promise<Map<string, number[]>> {
    const key = (hash: string) => `${this.embedder.model}\u0000${hash}`;
    const missing = [...new Map(candidates.map((candidate) => [candidate.hash, candidate])).values()].filter(
      (candidate) => !this.cache.has(key(candidate.hash)),
    );
    for (let start = 0; start < missing.length; start += BATCH) {
      const slice = missing.slice(start, start + BATCH);
      const vectors = await this.embedder.embed(slice.map(clusterText));
      if (vectors.length !== slice.length) {
        throw new Error(`the embedder returned ${vectors.length} vectors for ${slice.length} texts`);
      }
      slice.forEach((candidate, index) => {
        this.cache.set(key(candidate.hash), vectors[index] as number[]);
      });
    }
    const result = new Map<string, number[]>();
    for (const candidate of candidates) {
      const vector = this.cache.get(key(candidate.hash));
      if (vector) result.set(candidate.hash, vector);
    }
    // Oldest first out (a Map iterates in insertion order), after this barrier took its vectors.
    for (const stale of this.cache.keys()) {
      if (this.cache.size <= this.maxCached) break;
      this.cache.delete(stale);
    }
    return result;
  }
}
