/**
 * Which items a run asks, and in what order: the dataset order by default (as the original, which
 * batched `items[i:i+B]` without shuffling), a seeded shuffle with `seed`, a seeded sample of `sample`
 * items (kept in dataset order unless `seed` shuffles too), or the first `limit`. The same options
 * always select the same items in the same order.
 */
export interface SelectOptions {
  /** Shuffle with this seed (a fixed order across repeats and machines). */
  seed?: number;
  /** Ask a seeded random sample of this many items. */
  sample?: number;
  /** Ask only the first this-many (after sampling and shuffling). */
  limit?: number;
}

export function selectItems<T>(items: readonly T[], options: SelectOptions): T[] {
  let selected = items.map((item, index) => ({ item, index }));
  if (options.sample !== undefined && options.sample < selected.length) {
    const random = mulberry32(options.seed ?? 0x5eed);
    const pool = [...selected];
    shuffle(pool, random);
    selected = pool.slice(0, Math.max(0, options.sample)).sort((a, b) => a.index - b.index);
  }
  if (options.seed !== undefined) shuffle(selected, mulberry32(options.seed));
  if (options.limit !== undefined) selected = selected.slice(0, Math.max(0, options.limit));
  return selected.map((entry) => entry.item);
}

function shuffle<T>(values: T[], random: () => number): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = values[i] as T;
    values[i] = values[j] as T;
    values[j] = a;
  }
}

/** A small, well-known 32-bit PRNG: the same seed gives the same sequence everywhere. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
