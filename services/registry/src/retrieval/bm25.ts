/**
 * An incremental BM25 index (Okapi, k1 = 1.2, b = 0.75) over numeric document ids. Documents come
 * and go as the library changes; postings are kept per term so a query touches only the documents
 * that share a term with it.
 */
export class Bm25Index {
  private readonly postings = new Map<string, Map<number, number>>();
  private readonly documentTerms = new Map<number, Map<string, number>>();
  private readonly lengths = new Map<number, number>();
  private totalLength = 0;
  private scores = new Float64Array(1024);

  constructor(
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {}

  get size(): number {
    return this.documentTerms.size;
  }

  has(id: number): boolean {
    return this.documentTerms.has(id);
  }

  add(id: number, tokens: string[]): void {
    if (this.documentTerms.has(id)) this.remove(id);
    const counts = new Map<string, number>();
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    for (const [term, count] of counts) {
      let posting = this.postings.get(term);
      if (!posting) {
        posting = new Map();
        this.postings.set(term, posting);
      }
      posting.set(id, count);
    }
    this.documentTerms.set(id, counts);
    this.lengths.set(id, tokens.length);
    this.totalLength += tokens.length;
    if (id >= this.scores.length) {
      const grown = new Float64Array(Math.max(id + 1, this.scores.length * 2));
      this.scores = grown;
    }
  }

  remove(id: number): void {
    const counts = this.documentTerms.get(id);
    if (!counts) return;
    for (const term of counts.keys()) {
      const posting = this.postings.get(term);
      posting?.delete(id);
      if (posting?.size === 0) this.postings.delete(term);
    }
    this.documentTerms.delete(id);
    this.totalLength -= this.lengths.get(id) ?? 0;
    this.lengths.delete(id);
  }

  /**
   * The best `limit` documents for the query tokens that pass `accept`, best first.
   */
  search(
    queryTokens: string[],
    limit: number,
    accept?: (id: number) => boolean,
  ): { id: number; score: number }[] {
    const documents = this.documentTerms.size;
    if (documents === 0 || limit <= 0) return [];
    const averageLength = this.totalLength / documents;
    const scores = this.scores;
    const touched: number[] = [];
    for (const term of new Set(queryTokens)) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const idf = Math.log(1 + (documents - posting.size + 0.5) / (posting.size + 0.5));
      for (const [id, frequency] of posting) {
        const length = this.lengths.get(id) ?? 0;
        const weight =
          (idf * (frequency * (this.k1 + 1))) /
          (frequency + this.k1 * (1 - this.b + (this.b * length) / averageLength));
        if (scores[id] === 0) touched.push(id);
        scores[id] = (scores[id] ?? 0) + weight;
      }
    }
    const hits: { id: number; score: number }[] = [];
    for (const id of touched) {
      const score = scores[id] ?? 0;
      scores[id] = 0;
      if (score > 0 && (!accept || accept(id))) hits.push({ id, score });
    }
    return topK(hits, limit);
  }
}

/** The `limit` highest-scoring items, best first (ties broken by id for a stable order). */
export function topK<T extends { id: number; score: number }>(items: T[], limit: number): T[] {
  items.sort((left, right) => right.score - left.score || left.id - right.id);
  return items.length > limit ? items.slice(0, limit) : items;
}
