/**
 * The compact catalog of the whole library that the Manager's plan prompt carries beside the
 * detailed top-k (DESIGN "The loop" point 9): one line per tool — name and a one-line purpose —
 * ordered by use, cut at a token budget, with "N more exist" for what did not fit; when the task is
 * known, its retrieved neighbourhood leads the list (ADR 0106). The original
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

/** Share of the catalog budget the task's retrieved neighbourhood may take (ADR 0106). */
export const DEFAULT_RELATED_SHARE = 0.3;

export interface CatalogOptions {
  /** Token budget of the whole block (default {@link DEFAULT_CATALOG_TOKENS}). */
  budgetTokens?: number;
  /**
   * Names of the tools retrieved for the task, most related first: listed before the most-used
   * tools, within `relatedShare` of the budget. Names not in `tools` are ignored.
   */
  related?: string[];
  /** Share of the budget the related tools may take (default {@link DEFAULT_RELATED_SHARE}). */
  relatedShare?: number;
}

export interface BuiltCatalog extends Catalog {
  /** Of `entries`, how many lead the list as the task's neighbourhood. */
  related: number;
}

/**
 * Builds the catalog: the task's related tools first (while their share of the budget holds),
 * then the rest most-called first (ties by name), lines added while the budget holds.
 *
 * Why a neighbourhood: beyond ≈ 200 tools the catalog lists only the most used, and retrieval's
 * detailed top-k holds a handful per query; a needed tool ranked ninth for its capability then
 * reached the prompt by neither path. A line costs ≈ 25 tokens, so a 0.3 share lists ≈ 45 related
 * tools for what a 4k-token catalog spends anyway.
 */
export function buildCatalog(tools: CatalogTool[], options: CatalogOptions = {}): BuiltCatalog {
  const {
    budgetTokens = DEFAULT_CATALOG_TOKENS,
    related = [],
    relatedShare = DEFAULT_RELATED_SHARE,
  } = options;
  const sorted = [...tools].sort(
    (left, right) =>
      right.calls - left.calls || (left.name < right.name ? -1 : left.name > right.name ? 1 : 0),
  );
  const byName = new Map(sorted.map((tool) => [tool.name, tool]));
  const entries: CatalogEntry[] = [];
  const lines: string[] = [];
  const listed = new Set<string>();
  // Room for the closing "N more exist" line is kept from the start.
  let used = 20;
  const add = (tool: CatalogTool, limit: number): boolean => {
    const entry: CatalogEntry = {
      name: tool.name,
      hash: tool.hash,
      purpose: purposeOf(tool.description),
      calls: tool.calls,
    };
    const line = catalogLine(entry);
    const cost = estimateTokens(line) + 1;
    if (used + cost > limit) return false;
    used += cost;
    entries.push(entry);
    lines.push(line);
    listed.add(tool.name);
    return true;
  };
  const relatedLimit = Math.min(budgetTokens, 20 + Math.floor(budgetTokens * Math.max(0, relatedShare)));
  for (const name of related) {
    const tool = byName.get(name);
    if (!tool || listed.has(name)) continue;
    if (!add(tool, relatedLimit)) break;
  }
  const relatedCount = entries.length;
  for (const tool of sorted) {
    if (listed.has(tool.name)) continue;
    if (!add(tool, budgetTokens)) break;
  }
  const omitted = sorted.length - entries.length;
  if (omitted > 0)
    lines.push(
      `(${omitted} more tools exist in the library and are not listed here; they are found by retrieval when the question or a tool request needs them)`,
    );
  const text = lines.join("\n");
  return {
    total: sorted.length,
    entries,
    omitted,
    related: relatedCount,
    text,
    tokens: estimateTokens(text),
  };
}
