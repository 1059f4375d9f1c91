import type { Bus } from "@insitu/bus";
import { type ExternalTool, ExternalToolsList } from "@insitu/contracts";
import type { ToolCandidate } from "./planner.js";

type Search = (input: { query: string; taskId: string; capabilities?: string[] }) => Promise<ToolCandidate[]>;

/** How long one listing of external tools is reused (they change rarely; the executor follows list_changed). */
const CACHE_MS = 5_000;

/** The executor's external (MCP) tools over the bus; none when no executor answers in time. */
export function externalToolsOverBus(bus: Bus, timeoutMs = 2_000): () => Promise<ExternalTool[]> {
  let cached: { at: number; tools: ExternalTool[] } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.tools;
    try {
      const reply = await bus.request(ExternalToolsList, {}, { timeoutMs });
      cached = { at: Date.now(), tools: reply.tools };
      return reply.tools;
    } catch {
      // No executor, or one without MCP servers answering: plan with the library alone.
      return cached?.tools ?? [];
    }
  };
}

/**
 * Merges the operator's external (MCP) tools into retrieval: the registry's top-k as before, plus
 * up to `k` external tools that share words with the query, marked `source: "external"`. They
 * never enter the registry (no copy, no merge); a library tool of the same name wins.
 */
export function withExternalTools(
  search: Search,
  listExternal: () => Promise<ExternalTool[]>,
  k: number,
): Search {
  return async (input) => {
    const [built, external] = await Promise.all([search(input), listExternal()]);
    if (external.length === 0) return built;
    const taken = new Set(built.map((candidate) => candidate.name));
    const words = new Set(tokens([input.query, ...(input.capabilities ?? [])].join(" ")));
    const ranked = external
      .filter((tool) => !taken.has(tool.name))
      .map((tool) => ({
        tool,
        score: tokens(`${tool.name} ${tool.description}`).filter((word) => words.has(word)).length,
      }))
      .filter((entry) => entry.score > 0)
      .sort((left, right) => right.score - left.score || (left.tool.name < right.tool.name ? -1 : 1))
      .slice(0, k);
    return [
      ...built,
      ...ranked.map(({ tool, score }) => ({
        name: tool.name,
        version: tool.version,
        description: tool.description,
        inputSchema: tool.inputSchema,
        score,
        source: "external" as const,
        server: tool.server,
      })),
    ];
  };
}

const STOP_WORDS = new Set([
  "the",
  "a",
  "an",
  "of",
  "in",
  "to",
  "and",
  "or",
  "is",
  "are",
  "what",
  "how",
  "it",
  "its",
  "with",
  "for",
  "on",
  "by",
  "this",
  "that",
  "word",
  "text",
]);

function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 2 && !STOP_WORDS.has(word))
    .map(stem);
}

/** A light stem so "files"/"file" and "reads"/"reading"/"read" meet (both sides use it). */
function stem(word: string): string {
  let value = word;
  if (value.length > 4 && value.endsWith("ies")) value = `${value.slice(0, -3)}y`;
  else if (value.length > 3 && value.endsWith("s") && !value.endsWith("ss")) value = value.slice(0, -1);
  if (value.length > 5 && value.endsWith("ing")) value = value.slice(0, -3);
  return value;
}
