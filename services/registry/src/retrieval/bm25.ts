/**
 * An incremental BM25 index (Okapi, k1 = 1.2, b = 0.75) over dense numeric document ids.
 * Documents come and go as the library changes; postings are plain arrays per term (ids and term
 * frequencies side by side, swap-removed) so a query touches only documents sharing a term with it
 * and iterates them without Map overhead.
 */
interface Posting {
  ids: number[];
  frequencies: number[];
}

export class Bm25Index {
  private readonly postings = new Map<string, Posting>();
  private readonly documentTerms = new Map<number, string[]>();
  private lengths = new Float64Array(1024);
  private scores = new Float64Array(1024);
  private totalLength = 0;

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
    if (id >= this.lengths.length) {
      let capacity = this.lengths.length;
      while (capacity <= id) capacity *= 2;
      const lengths = new Float64Array(capacity);
      lengths.set(this.lengths);
      this.lengths = lengths;
      this.scores = new Float64Array(capacity);
    }
    const counts = new Map<string, number>();
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    for (const [term, count] of counts) {
      let posting = this.postings.get(term);
      if (!posting) {
        posting = { ids: [], frequencies: [] };
        this.postings.set(term, posting);
      }
      posting.ids.push(id);
      posting.frequencies.push(count);
    }
    this.documentTerms.set(id, [...counts.keys()]);
    this.lengths[id] = tokens.length;
    this.totalLength += tokens.length;
  }

  remove(id: number): void {
    const terms = this.documentTerms.get(id);
    if (!terms) return;
    for (const term of terms) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const index = posting.ids.indexOf(id);
      if (index < 0) continue;
      const last = posting.ids.length - 1;
      posting.ids[index] = posting.ids[last] as number;
      posting.frequencies[index] = posting.frequencies[last] as number;
      posting.ids.pop();
      posting.frequencies.pop();
      if (posting.ids.length === 0) this.postings.delete(term);
    }
    this.documentTerms.delete(id);
    this.totalLength -= this.lengths[id] ?? 0;
    this.lengths[id] = 0;
  }

  /** The best `limit` documents for the query tokens that pass `accept`, best first. */
  search(
    queryTokens: string[],
    limit: number,
    accept?: (id: number) => boolean,
  ): { id: number; score: number }[] {
    const documents = this.documentTerms.size;
    if (documents === 0 || limit <= 0) return [];
    const averageLength = this.totalLength / documents;
    const scores = this.scores;
    const lengths = this.lengths;
    const k1 = this.k1;
    const lengthWeight = (k1 * this.b) / averageLength;
    const base = k1 * (1 - this.b);
    const touched: number[] = [];
    for (const term of new Set(queryTokens)) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const { ids, frequencies } = posting;
      const idf = Math.log(1 + (documents - ids.length + 0.5) / (ids.length + 0.5));
      const numerator = idf * (k1 + 1);
      for (let index = 0; index < ids.length; index++) {
        const id = ids[index] as number;
        const frequency = frequencies[index] as number;
        const weight = (numerator * frequency) / (frequency + base + lengthWeight * (lengths[id] as number));
        if (scores[id] === 0) touched.push(id);
        scores[id] = (scores[id] as number) + weight;
      }
    }
    const hits: { id: number; score: number }[] = [];
    let floor = 0;
    for (const id of touched) {
      const score = scores[id] as number;
      scores[id] = 0;
      // Only candidates that can still make the list pay for `accept` and an object.
      if (score < floor && hits.length >= limit) continue;
      if (score > 0 && (!accept || accept(id))) {
        hits.push({ id, score });
        if (hits.length >= limit * 8) {
          topK(hits, limit);
          hits.length = limit;
          floor = hits[limit - 1]?.score ?? 0;
        }
      }
    }
    return topK(hits, limit);
  }
}

/** The `limit` highest-scoring items, best first (ties broken by id for a stable order). */
export function topK<T extends { id: number; score: number }>(items: T[], limit: number): T[] {
  items.sort((left, right) => right.score - left.score || left.id - right.id);
  if (items.length > limit) items.length = limit;
  return items;
}
