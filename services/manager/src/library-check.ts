import type { ToolRequest } from "@insitu/contracts";
import type { ToolCandidate } from "./planner.js";

/**
 * Build avoidance (issue 10, point 2): before any build, each tool request of a plan is looked up
 * in the library as a capability (its name and description as the query). A library tool whose
 * name, description and parameters cover the request is put before the model again with "select
 * it and drop the request" (strong match) or "read it; if it does the job, select it" (ambiguous
 * match: the planning model confirms). Requests the second plan drops are builds avoided.
 */
export interface LibraryMatch {
  request: string;
  tool: ToolCandidate;
  /** Coverage in [0, 1] (see {@link coverage}). */
  score: number;
  strong: boolean;
}

/** Coverage thresholds: at or above `strong` the tool covers the request; from `ambiguous`, maybe. */
export const COVERAGE = { strong: 0.6, ambiguous: 0.2 } as const;

const STOP = new Set(
  "a an and are as at be by for from has in into is it its of on or that the this to with which returns return given get gets".split(
    " ",
  ),
);

/** Content words of a text: split on non-alphanumerics and snake_case, plurals folded. */
export function contentWords(text: string): Set<string> {
  const words = new Set<string>();
  for (const raw of text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)) {
    if (raw.length < 2 || STOP.has(raw)) continue;
    words.add(raw.length > 3 && raw.endsWith("s") && !raw.endsWith("ss") ? raw.slice(0, -1) : raw);
  }
  return words;
}

function jaccard(left: Set<string>, right: Set<string>): number {
  if (left.size === 0 && right.size === 0) return 0;
  let shared = 0;
  for (const word of left) if (right.has(word)) shared++;
  return shared / (left.size + right.size - shared);
}

function dice(left: Set<string>, right: Set<string>): number {
  if (left.size + right.size === 0) return 0;
  let shared = 0;
  for (const word of left) if (right.has(word)) shared++;
  return (2 * shared) / (left.size + right.size);
}

function parameterWords(schema: Record<string, unknown>): Set<string> {
  const properties = schema.properties;
  if (!properties || typeof properties !== "object") return new Set();
  return contentWords(Object.keys(properties as object).join(" "));
}

/**
 * How well a library tool covers a requested tool: name words (Jaccard, weight 0.5), description
 * words (Dice, 0.35) and parameter names (Jaccard, 0.15). `fetch_text_url` against
 * `fetch_url_text` scores ≈ 0.8; unrelated tools score under 0.2.
 */
export function coverage(request: ToolRequest, tool: ToolCandidate): number {
  const name = jaccard(contentWords(request.name), contentWords(tool.name));
  const description = dice(contentWords(request.description), contentWords(tool.description));
  const parameters = jaccard(parameterWords(request.input_schema), parameterWords(tool.inputSchema));
  return 0.5 * name + 0.35 * description + 0.15 * parameters;
}

/** The retrieval query that stands for a request's capability. */
export function capabilityOf(request: ToolRequest): string {
  return `${request.name.replace(/_/g, " ")}: ${request.description}`.slice(0, 500);
}

/**
 * For each request, the best-covering tool among the registry's hits for its capability (at least
 * ambiguous coverage), if any. `search` is the registry retrieval (library and the task's pool).
 */
export async function matchRequests(
  requests: ToolRequest[],
  search: (capability: string) => Promise<ToolCandidate[]>,
): Promise<LibraryMatch[]> {
  const matches: LibraryMatch[] = [];
  for (const request of requests) {
    let best: LibraryMatch | undefined;
    for (const tool of await search(capabilityOf(request))) {
      // The same name is the library's tool for it (it was neither retrieved nor in the catalog,
      // or the schema would have refused the request): building it again only makes a duplicate.
      const score = tool.name === request.name ? 1 : coverage(request, tool);
      if (score >= COVERAGE.ambiguous && (!best || score > best.score))
        best = { request: request.name, tool, score, strong: score >= COVERAGE.strong };
    }
    if (best) matches.push(best);
  }
  return matches;
}
