/**
 * The compact catalog of the whole library that the Manager's plan prompt carries beside the
 * detailed top-k (DESIGN "The loop" point 9): one line per tool — name and a one-line purpose —
 * ordered by use, cut at a token budget, with "N more exist" for what did not fit. The original
 * listed every tool with its full schema (≈ 259 tokens each); a catalog line costs ≈ 20, so a
 * 4,000-token budget lists the whole library up to ≈ 200 tools and the most-used ≈ 200 beyond it.
 */

/** One library tool as the catalog sees it. */
export interface CatalogTool {
  name: string;
  hash: string;
  description: string;
  /** All-time calls of the name (every version); orders the catalog. */
  calls: number;
}

export interface CatalogEntry {
  name: string;
  hash: string;
  purpose: string;
  calls: number;
}

export interface Catalog {
  /** Tools in the library. */
  total: number;
  /** Tools listed, most used first. */
  entries: CatalogEntry[];
  /** Tools that did not fit the budget. */
  omitted: number;
  /** The block as the prompt shows it. */
  text: string;
  /** Estimated tokens of `text`. */
  tokens: number;
}

/** Default token budget of the catalog block (issue 10: ≈ 4k tokens). */
export const DEFAULT_CATALOG_TOKENS = 4000;
/** Characters of purpose kept per line. */
const PURPOSE_CHARS = 90;

/**
 * Tokens of a text, estimated without a tokenizer: ≈ 4 characters per token for Latin text (the
 * usual rule for English with BPE vocabularies), one per CJK character. Close enough to budget
 * a prompt section; the real count is charged by the model's usage report.
 */
export function estimateTokens(text: string): number {
  let wide = 0;
  for (const character of text)
    if (/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(character)) wide++;
  return Math.ceil((text.length - wide) / 4) + wide;
}

/** The first sentence of a description, cut at a word boundary. */
export function purposeOf(description: string): string {
  const flat = description.replace(/\s+/g, " ").trim();
  const sentence = /^(.+?[.!?])(\s|$)/.exec(flat)?.[1] ?? flat;
  if (sentence.length <= PURPOSE_CHARS) return sentence.replace(/[.!?]$/, "");
  const cut = sentence.slice(0, PURPOSE_CHARS);
  const space = cut.lastIndexOf(" ");
  return `${cut.slice(0, space > 40 ? space : PURPOSE_CHARS)}…`;
}

export function catalogLine(entry: CatalogEntry): string {
  return `- ${entry.name}: ${entry.purpose}`;
}

/** Builds the catalog: most-called first (ties by name), lines added while the budget holds. */
export function buildCatalog(tools: CatalogTool[], budgetTokens = DEFAULT_CATALOG_TOKENS): Catalog {
  const sorted = [...tools].sort(
    (left, right) =>
      right.calls - left.calls || (left.name < right.name ? -1 : left.name > right.name ? 1 : 0),
  );
  const entries: CatalogEntry[] = [];
  const lines: string[] = [];
  // Room for the closing "N more exist" line is kept from the start.
  let used = 20;
  for (const tool of sorted) {
    const entry: CatalogEntry = {
      name: tool.name,
      hash: tool.hash,
      purpose: purposeOf(tool.description),
      calls: tool.calls,
    };
    const line = catalogLine(entry);
    const cost = estimateTokens(line) + 1;
    if (used + cost > budgetTokens) break;
    used += cost;
    entries.push(entry);
    lines.push(line);
  }
  const omitted = sorted.length - entries.length;
  if (omitted > 0)
    lines.push(
      `(${omitted} more tools exist in the library and are not listed here; they are found by retrieval when the question or a tool request needs them)`,
    );
  const text = lines.join("\n");
  return { total: sorted.length, entries, omitted, text, tokens: estimateTokens(text) };
}
