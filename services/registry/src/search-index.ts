import type { SearchHit } from "@insitu/contracts";
import type { VectorDocument } from "./documents.js";
import type { LibraryView } from "./library-view.js";
import { Bm25Index } from "./retrieval/bm25.js";
import { type FusedHit, normalizeLexical, reciprocalRankFusion } from "./retrieval/fuse.js";
import { documentTokens, parameterNames, tokenize } from "./retrieval/tokenize.js";
import { VectorIndex } from "./retrieval/vector-index.js";

/** How many candidates each ranker hands to the fusion step. */
const CANDIDATES = 50;

/**
 * The retrieval index over everything a search may return: the current library and every open
 * task pool. Documents are keyed by a dense numeric id per version hash; the view calls
 * {@link refresh} whenever a version's eligibility may have changed.
 */
export class SearchIndex {
  private readonly lexical = new Bm25Index();
  private readonly vectors: VectorIndex | undefined;
  private readonly ids = new Map<string, number>();
  private readonly hashes: (string | undefined)[] = [];
  private readonly free: number[] = [];
  /** Per id: 1 when the version is the current library's for its name (checked per candidate). */
  private library = new Uint8Array(1024);
  /** Per id: the task whose open pool holds the version as its newest of that name. */
  private readonly owners: (string | undefined)[] = [];
  private readonly names: (string | undefined)[] = [];
  /** Vectors of the configured model, by hash (kept even while a version is not searchable). */
  private readonly stored = new Map<string, number[]>();

  constructor(
    private readonly view: LibraryView,
    readonly embeddingModel?: string,
    dimensions?: number,
  ) {
    if (embeddingModel && dimensions) this.vectors = new VectorIndex(dimensions);
  }

  get size(): number {
    return this.lexical.size;
  }

  get vectorCount(): number {
    return this.vectors?.size ?? 0;
  }

  hasVector(hash: string): boolean {
    return this.stored.has(hash);
  }

  setVector(hash: string, document: VectorDocument): void {
    if (!this.vectors || document.model !== this.embeddingModel) return;
    if (document.vector.length !== this.vectors.dimensions) return;
    this.stored.set(hash, document.vector);
    const id = this.ids.get(hash);
    if (id !== undefined) this.vectors.add(id, document.vector);
  }

  /** Adds or removes a version so the index holds exactly the searchable ones. */
  refresh(hash: string): void {
    const meta = this.view.versions.get(hash);
    const searchable =
      meta !== undefined &&
      (this.view.currentTools.get(meta.name) === hash ||
        (meta.createdByTask !== undefined && this.view.poolVersion(meta.createdByTask, meta.name) === hash));
    const existing = this.ids.get(hash);
    if (!searchable) {
      if (existing !== undefined) {
        this.lexical.remove(existing);
        this.vectors?.remove(existing);
        this.ids.delete(hash);
        this.hashes[existing] = undefined;
        this.names[existing] = undefined;
        this.owners[existing] = undefined;
        this.library[existing] = 0;
        this.free.push(existing);
      }
      return;
    }
    if (!meta) return;
    if (existing !== undefined) {
      this.mark(existing, hash, meta.name, meta.createdByTask);
      return;
    }
    const id = this.free.pop() ?? this.hashes.length;
    this.ids.set(hash, id);
    this.hashes[id] = hash;
    this.mark(id, hash, meta.name, meta.createdByTask);
    this.lexical.add(
      id,
      documentTokens({
        name: meta.name,
        description: meta.manifest.description,
        parameterNames: parameterNames(meta.manifest.inputSchema),
      }),
    );
    const vector = this.stored.get(hash);
    if (vector) this.vectors?.add(id, vector);
  }

  private mark(id: number, hash: string, name: string, createdByTask: string | undefined): void {
    if (id >= this.library.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.library.length * 2));
      grown.set(this.library);
      this.library = grown;
    }
    this.library[id] = this.view.currentTools.get(name) === hash ? 1 : 0;
    this.names[id] = name;
    this.owners[id] =
      createdByTask !== undefined && this.view.poolVersion(createdByTask, name) === hash
        ? createdByTask
        : undefined;
  }

  /**
   * Top-k for a query. `queryVector` switches on hybrid ranking (RRF of BM25 and cosine). With a
   * task id, that task's pool versions are eligible too and shadow library versions of the same
   * name.
   */
  query(text: string, k: number, taskId: string | undefined, queryVector?: number[]): SearchHit[] {
    // Eligibility from per-id flags kept by refresh(): candidates are checked by the thousand.
    const library = this.library;
    const accept =
      taskId === undefined
        ? (id: number): boolean => library[id] === 1
        : (id: number): boolean =>
            library[id] === 1
              ? this.view.poolVersion(taskId, this.names[id] as string) === undefined
              : this.owners[id] === taskId;
    const depth = Math.max(k, CANDIDATES);
    const lexical = this.lexical.search(tokenize(text), depth, accept);
    let fused: FusedHit[];
    if (queryVector && this.vectors) {
      const semantic = this.vectors.search(queryVector, depth, accept);
      fused = reciprocalRankFusion(lexical, semantic, k);
    } else fused = normalizeLexical(lexical).slice(0, k);

    const hits: SearchHit[] = [];
    for (const hit of fused) {
      const hash = this.hashes[hit.id];
      const meta = hash === undefined ? undefined : this.view.versions.get(hash);
      if (!meta || hash === undefined) continue;
      const result: SearchHit = {
        name: meta.name,
        hash,
        description: meta.manifest.description,
        manifest: meta.manifest,
        source: this.view.currentTools.get(meta.name) === hash ? "library" : "pool",
        score: hit.score,
        usage: this.view.usage([hash]),
      };
      if (hit.lexicalScore !== undefined) result.lexicalScore = hit.lexicalScore;
      if (hit.vectorScore !== undefined) result.vectorScore = hit.vectorScore;
      hits.push(result);
    }
    return hits;
  }
}
