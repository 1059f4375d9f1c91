/**
 * Reciprocal-rank fusion (Cormack et al., 2009): score = Σ 1 / (k + rank) over the rankings a
 * document appears in. It needs no score calibration between BM25 (unbounded) and cosine
 * similarity ([-1, 1]), which is why it is the default way to fuse them.
 */
export const RRF_K = 60;

export interface FusedHit {
  id: number;
  score: number;
  lexicalScore?: number;
  vectorScore?: number;
}

export function reciprocalRankFusion(
  lexical: { id: number; score: number }[],
  vector: { id: number; score: number }[],
  limit: number,
  k = RRF_K,
): FusedHit[] {
  const fused = new Map<number, FusedHit>();
  lexical.forEach((hit, rank) => {
    fused.set(hit.id, { id: hit.id, score: 1 / (k + rank + 1), lexicalScore: hit.score });
  });
  vector.forEach((hit, rank) => {
    const existing = fused.get(hit.id);
    if (existing) {
      existing.score += 1 / (k + rank + 1);
      existing.vectorScore = hit.score;
    } else fused.set(hit.id, { id: hit.id, score: 1 / (k + rank + 1), vectorScore: hit.score });
  });
  return [...fused.values()]
    .sort((left, right) => right.score - left.score || left.id - right.id)
    .slice(0, limit);
}

/** Lexical-only ranking: BM25 scores scaled so the best hit is 1. */
export function normalizeLexical(lexical: { id: number; score: number }[]): FusedHit[] {
  const best = lexical[0]?.score ?? 1;
  return lexical.map((hit) => ({ id: hit.id, score: hit.score / best, lexicalScore: hit.score }));
}
