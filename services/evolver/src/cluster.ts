/**
 * Pre-clustering: which tools might be the same capability. It only proposes groups; the model
 * decides. Lexical similarity weighs three token sets — name words (Jaccard), description words
 * (overlap coefficient) and input/output field names (Jaccard) — so `count_words` / `word_count`
 * with a `text` field meet, and `count_words` / `fetch_weather` do not. With an embedder
 * configured, two tools are also linked when the cosine of their embeddings (of
 * {@link clusterText}) reaches its own threshold: the union of both links (ADR 0116), so
 * embeddings only add near-duplicates worded differently and never drop a lexical one.
 */
export interface ClusterCandidate {
  hash: string;
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  /** True for a tool new since the last barrier (offered, or admitted during the batch). */
  fresh: boolean;
}

export interface ClusterOptions {
  /** Lexical similarity at or above which two tools are linked (default 0.35). */
  threshold?: number;
  /** Largest group proposed (default 6). */
  maxGroupSize?: number;
  /** Embeddings of {@link clusterText} by hash, when an embedder is configured. */
  vectors?: Map<string, number[]>;
  /** Cosine at or above which two embedded tools are linked (default {@link DEFAULT_EMBEDDING_THRESHOLD}). */
  embeddingThreshold?: number;
}

export const DEFAULT_LEXICAL_THRESHOLD = 0.35;
/**
 * Cosine links by default only near-paraphrases: sentence-embedding models put unrelated short
 * texts of one domain well above 0.5, so a lower bar floods the model with groups (ADR 0116).
 */
export const DEFAULT_EMBEDDING_THRESHOLD = 0.85;

/** What is embedded for a tool: name words, description, and a summary of its input and output fields. */
export function clusterText(candidate: ClusterCandidate): string {
  const fields = (schema: Record<string, unknown>) => {
    const properties = schema.properties;
    return properties && typeof properties === "object" ? Object.keys(properties).join(", ") : "";
  };
  return `${candidate.name.replace(/_/g, " ")}: ${candidate.description} Input: ${fields(candidate.inputSchema)}. Output: ${fields(candidate.outputSchema)}.`;
}

const STOP_WORDS = new Set(
  "a an and are as at be by for from given in into is it its of on or that the this to with returns return tool".split(
    " ",
  ),
);

/** Lower-case word stems (a trailing plural `s` dropped) without stop words. */
export function words(text: string): Set<string> {
  const result = new Set<string>();
  for (const raw of text
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)) {
    if (raw.length < 2 || STOP_WORDS.has(raw)) continue;
    result.add(raw.length > 3 && raw.endsWith("s") && !raw.endsWith("ss") ? raw.slice(0, -1) : raw);
  }
  return result;
}

function fieldNames(schema: Record<string, unknown>): Set<string> {
  const properties = schema.properties;
  const names = new Set<string>();
  if (properties && typeof properties === "object") {
    for (const key of Object.keys(properties)) for (const word of words(key)) names.add(word);
  }
  return names;
}

function jaccard(left: Set<string>, right: Set<string>): number {
  if (left.size === 0 && right.size === 0) return 0;
  let shared = 0;
  for (const item of left) if (right.has(item)) shared++;
  return shared / (left.size + right.size - shared);
}

function overlap(left: Set<string>, right: Set<string>): number {
  if (left.size === 0 || right.size === 0) return 0;
  let shared = 0;
  for (const item of left) if (right.has(item)) shared++;
  return shared / Math.min(left.size, right.size);
}

export function cosine(left: number[], right: number[]): number {
  let dot = 0;
  let a = 0;
  let b = 0;
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    dot += (left[index] ?? 0) * (right[index] ?? 0);
    a += (left[index] ?? 0) ** 2;
    b += (right[index] ?? 0) ** 2;
  }
  return a === 0 || b === 0 ? 0 : dot / Math.sqrt(a * b);
}

/** How alike two tools look by their words, 0..1. Same name is always 1 (an offered rival of a library tool). */
export function similarity(left: ClusterCandidate, right: ClusterCandidate): number {
  if (left.name === right.name) return 1;
  const name = jaccard(words(left.name), words(right.name));
  // Overlap, not Jaccard: a wordier description of the same thing should not look less alike.
  const description = overlap(words(left.description), words(right.description));
  const fields = jaccard(
    new Set([...fieldNames(left.inputSchema), ...[...fieldNames(left.outputSchema)].map((f) => `out:${f}`)]),
    new Set([
      ...fieldNames(right.inputSchema),
      ...[...fieldNames(right.outputSchema)].map((f) => `out:${f}`),
    ]),
  );
  return 0.4 * name + 0.35 * description + 0.25 * fields;
}

/**
 * Whether two tools are linked, and how strongly (each signal over its own threshold, so a
 * lexical 0.35 and a cosine 0.85 are equally strong links): lexical OR embedding (ADR 0116).
 */
export function link(
  left: ClusterCandidate,
  right: ClusterCandidate,
  options: Pick<ClusterOptions, "threshold" | "vectors" | "embeddingThreshold"> = {},
): { linked: boolean; strength: number; lexical: number; cosine?: number } {
  const threshold = options.threshold ?? DEFAULT_LEXICAL_THRESHOLD;
  const lexical = similarity(left, right);
  const leftVector = options.vectors?.get(left.hash);
  const rightVector = options.vectors?.get(right.hash);
  if (!leftVector || !rightVector)
    return { linked: lexical >= threshold, strength: lexical / threshold, lexical };
  const embeddingThreshold = options.embeddingThreshold ?? DEFAULT_EMBEDDING_THRESHOLD;
  const semantic = cosine(leftVector, rightVector);
  return {
    linked: lexical >= threshold || semantic >= embeddingThreshold,
    strength: Math.max(lexical / threshold, semantic / embeddingThreshold),
    lexical,
    cosine: semantic,
  };
}

/**
 * Groups of two or more candidates linked by similarity (single linkage, capped in size), each
 * holding at least one fresh tool — library-only groups were judged at an earlier barrier.
 * Deterministic: candidates are taken in name order and groups come out sorted.
 */
export function preCluster(
  candidates: ClusterCandidate[],
  options: ClusterOptions = {},
): ClusterCandidate[][] {
  const maxSize = options.maxGroupSize ?? 6;
  const sorted = [...candidates].sort((left, right) =>
    left.name === right.name ? (left.hash < right.hash ? -1 : 1) : left.name < right.name ? -1 : 1,
  );
  const pairs: { left: number; right: number; score: number }[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const left = sorted[i] as ClusterCandidate;
      const right = sorted[j] as ClusterCandidate;
      if (!left.fresh && !right.fresh) continue;
      const { linked, strength } = link(left, right, options);
      if (linked) pairs.push({ left: i, right: j, score: strength });
    }
  }
  // Strongest links first, so a size cap keeps the closest members together.
  pairs.sort((a, b) => b.score - a.score || a.left - b.left || a.right - b.right);
  const group = sorted.map((_, index) => index);
  const members = new Map<number, number[]>(sorted.map((_, index) => [index, [index]]));
  const find = (index: number): number => {
    let root = index;
    while (group[root] !== root) root = group[root] as number;
    return root;
  };
  for (const { left, right } of pairs) {
    const a = find(left);
    const b = find(right);
    if (a === b) continue;
    const joined = [...(members.get(a) ?? []), ...(members.get(b) ?? [])];
    if (joined.length > maxSize) continue;
    group[b] = a;
    members.set(a, joined);
    members.delete(b);
  }
  return [...members.values()]
    .filter((indexes) => indexes.length > 1)
    .map((indexes) => indexes.sort((x, y) => x - y).map((index) => sorted[index] as ClusterCandidate))
    .filter((items) => items.some((item) => item.fresh))
    .sort((left, right) => ((left[0]?.name ?? "") < (right[0]?.name ?? "") ? -1 : 1));
}
