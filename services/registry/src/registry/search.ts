/**
 * Retrieval: search, a task's related tools and catalog, and the embedding vectors.
 */
import type { RegistryCatalog, RegistrySearch } from "@insitu/contracts";
import { Keys } from "../documents.js";
import { type CatalogTool, DEFAULT_CATALOG_TOKENS, buildCatalog } from "../catalog.js";
import { RRF_K } from "../retrieval/fuse.js";
import { parameterNames } from "../retrieval/tokenize.js";
import { type RegistryState, type Request, type Response, freshLibrary } from "./state.js";
import { noteTask } from "./usage.js";

/** Hits each capability of a search adds beyond the question's top-k (when not already in it). */
export const CAPABILITY_HITS = 3;
/** Retrieval depth per text of a task's catalog neighbourhood (ADR 0106). */
export const RELATED_DEPTH = 32;

export async function search(
  s: RegistryState,
  request: Request<typeof RegistrySearch>,
): Promise<Response<typeof RegistrySearch>> {
  const started = performance.now();
  await freshLibrary(s);
  const texts = [request.query, ...(request.capabilities ?? [])];
  const vectors = await queryVectors(s, texts, request.mode);
  const vector = vectors[0];
  if (request.taskId) await noteTask(s, request.taskId);
  const k = request.k ?? 10;
  const hits = s.view.search.query(request.query, k, request.taskId, vector);
  // Each capability keeps its own best few (DESIGN "The loop" 9: detailed top-k per needed
  // capability), whatever the question's ranking holds: one fused list would let a long
  // question's many terms crowd out a short capability's single right tool.
  const seen = new Set(hits.map((hit) => hit.hash));
  texts.slice(1).forEach((text, index) => {
    for (const hit of s.view.search.query(text, CAPABILITY_HITS, request.taskId, vectors[index + 1])) {
      if (seen.has(hit.hash)) continue;
      seen.add(hit.hash);
      hits.push(hit);
    }
  });
  return {
    mode: vector ? "hybrid" : "lexical",
    snapshot: s.view.snapshotNumber,
    hits,
    tookMs: performance.now() - started,
  };
}

/**
 * Query vectors for texts when searches fuse the embedder (`undefined` entries otherwise). A
 * model outage degrades retrieval to lexical; it must not fail the task.
 */
export async function queryVectors(
  s: RegistryState,
  texts: string[],
  mode: "auto" | "lexical" | "hybrid" | undefined,
): Promise<(number[] | undefined)[]> {
  const embeddings = s.options.embeddings;
  const fuse = mode === "hybrid" || (mode !== "lexical" && s.options.fuseEmbeddings !== false);
  if (!fuse || embeddings === undefined || s.view.search.vectorCount === 0) return [];
  try {
    return await embeddings.embed(texts);
  } catch (error) {
    s.options.logger.warn("query embedding failed; answering with lexical ranking", { error });
    return [];
  }
}

/**
 * The library tools most related to a task, most related first: each of the question and the
 * capabilities ranked to `depth`, fused by reciprocal rank (a tool several texts agree on rises;
 * each capability's best stay near the top). Only library tools (the catalog lists nothing
 * else); a task's pool version shadows its name. Feeds the catalog's neighbourhood (ADR 0106).
 */
export async function relatedTools(
  s: RegistryState,
  request: {
    query?: string;
    capabilities?: string[];
    taskId?: string;
    exclude?: string[];
    depth?: number;
    mode?: "auto" | "lexical" | "hybrid";
  },
): Promise<string[]> {
  await freshLibrary(s);
  const texts = [request.query, ...(request.capabilities ?? [])].filter(
    (text): text is string => text !== undefined && text.trim() !== "",
  );
  if (texts.length === 0) return [];
  const depth = request.depth ?? RELATED_DEPTH;
  const vectors = await queryVectors(s, texts, request.mode);
  const excluded = new Set(request.exclude ?? []);
  const scores = new Map<string, number>();
  texts.forEach((text, index) => {
    const hits = s.view.search.query(text, depth, request.taskId, vectors[index]);
    let rank = 0;
    for (const hit of hits) {
      if (hit.source !== "library" || excluded.has(hit.name)) continue;
      rank++;
      scores.set(hit.name, (scores.get(hit.name) ?? 0) + 1 / (RRF_K + rank));
    }
  });
  return [...scores]
    .sort((left, right) => right[1] - left[1] || (left[0] < right[0] ? -1 : 1))
    .map(([name]) => name);
}

/**
 * The compact catalog of the whole current library (most used first, within a token budget):
 * what the Manager's plan prompt lists beside the detailed top-k. With a question or
 * capabilities, the task's neighbourhood ({@link relatedTools}) leads it.
 */
export async function catalog(
  s: RegistryState,
  request: Request<typeof RegistryCatalog>,
): Promise<Response<typeof RegistryCatalog>> {
  await freshLibrary(s);
  const tools: CatalogTool[] = [];
  for (const [name, hash] of s.view.currentTools) {
    const meta = s.view.versions.get(hash);
    if (!meta) continue;
    let calls = 0;
    for (const version of s.view.byName.get(name) ?? []) calls += s.view.stats.get(version)?.calls ?? 0;
    tools.push({ name, hash, description: meta.manifest.description, calls });
  }
  const related =
    request.query || request.capabilities?.length
      ? await relatedTools(s, {
          ...(request.query ? { query: request.query } : {}),
          ...(request.capabilities ? { capabilities: request.capabilities } : {}),
          ...(request.taskId ? { taskId: request.taskId } : {}),
          ...(request.exclude ? { exclude: request.exclude } : {}),
        })
      : [];
  const catalog = buildCatalog(tools, {
    budgetTokens: request.budgetTokens ?? DEFAULT_CATALOG_TOKENS,
    related,
  });
  return { snapshot: s.view.snapshotNumber, ...catalog };
}

/** Stores vectors for versions that lack one for the configured model. */
export async function embed(s: RegistryState, hashes: string[]): Promise<void> {
  const embeddings = s.options.embeddings;
  if (!embeddings) return;
  const missing = hashes.filter((hash) => !s.view.search.hasVector(hash) && s.view.versions.has(hash));
  for (let start = 0; start < missing.length; start += 64) {
    const batch = missing.slice(start, start + 64);
    try {
      const vectors = await embeddings.embed(batch.map((hash) => embeddingText(s.view.versions.get(hash)!)));
      await Promise.all(
        batch.map(async (hash, index) => {
          const vector = vectors[index];
          if (!vector) return;
          const document = { model: embeddings.model, vector };
          const revision = await s.kv.put(Keys.vector(hash), document);
          await s.view.applyOwn(Keys.vector(hash), document, revision);
        }),
      );
    } catch (error) {
      s.options.logger.warn("embedding failed; these versions stay lexical-only until re-embedded", {
        error,
        versions: batch.length,
      });
    }
  }
}

export async function backfillVectors(s: RegistryState): Promise<void> {
  const hashes = [...s.view.currentTools.values()];
  for (const pool of s.view.pools.values()) {
    if (pool.state === "open") hashes.push(...pool.versions.map((entry) => entry.hash));
  }
  await embed(s, hashes);
}

/** Text a version is embedded from: name words, description and parameter names. */
export function embeddingText(meta: {
  name: string;
  manifest: { description: string; inputSchema: Record<string, unknown> };
}): string {
  return `${meta.name.replace(/_/g, " ")}: ${meta.manifest.description} Parameters: ${parameterNames(meta.manifest.inputSchema).join(", ")}`;
}
