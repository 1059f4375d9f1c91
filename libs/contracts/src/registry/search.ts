// Retrieval: search hits and the plan prompt's catalog.
// Part of the registry domain's contracts (see ./records.ts); served by `services/registry`.
import { z } from "zod";
import { defineEndpoint } from "../define.js";
import { ContentHash, TaskId, ToolName } from "../envelope.js";
import { UsageStatsSchema, StoredManifestSchema } from "./records.js";

export const SearchHitSchema = z
  .object({
    name: ToolName,
    hash: ContentHash,
    description: z.string(),
    /** The manifest, so a caller can bind the tool without another request. */
    manifest: StoredManifestSchema,
    /** Where the hit lives: the library or the asking task's pool. */
    source: z.enum(["library", "pool"]),
    /** Fused score, higher is better (reciprocal-rank fusion when hybrid, else normalized BM25). */
    score: z.number(),
    /** BM25 score, when the lexical ranker matched it. */
    lexicalScore: z.number().optional(),
    /** Cosine similarity, when the embedding ranker scored it. */
    vectorScore: z.number().optional(),
    usage: UsageStatsSchema,
  })
  .strict();

export type SearchHit = z.infer<typeof SearchHitSchema>;

export const RegistrySearch = defineEndpoint({
  service: "registry",
  name: "search",
  subject: "registry.search",
  version: 1,
  description:
    "Retrieves the top-k tools for a task description: BM25 over name, description and parameter names, fused with embedding similarity when an embedding model is configured (lexical alone otherwise). With taskId, the task's pool is searched too.",
  request: z
    .object({
      query: z.string().min(1).max(8000),
      /** How many hits (default 10). */
      k: z.number().int().min(1).max(100).optional(),
      taskId: TaskId.optional(),
      /** `auto` (default): hybrid when embeddings are available, else lexical. */
      mode: z.enum(["auto", "lexical", "hybrid"]).optional(),
      /**
       * Further queries — the capabilities a plan needs ("search the web", "days between dates") —
       * each ranked on its own; each adds its best 3 hits not already among the query's top-k
       * (so the answer holds up to k + 3 per capability).
       */
      capabilities: z.array(z.string().min(1).max(500)).max(16).optional(),
    })
    .strict(),
  response: z
    .object({
      /** The ranking actually used. */
      mode: z.enum(["lexical", "hybrid"]),
      snapshot: z.number().int().min(0),
      hits: z.array(SearchHitSchema),
      tookMs: z.number().min(0),
    })
    .strict(),
});

export const RegistryCatalog = defineEndpoint({
  service: "registry",
  name: "catalog",
  subject: "registry.catalog",
  version: 1,
  description:
    "A compact catalog of the whole current library for the Manager's plan prompt: one line per tool (name and one-line purpose); first the tools most related to the task (retrieved over its question and capabilities, within a share of the budget), then the most used, within a token budget; beyond it, how many more exist.",
  request: z
    .object({
      /** Token budget of the catalog block (default 4000). */
      budgetTokens: z.number().int().min(100).max(200_000).optional(),
      /**
       * The task's question: with it (or capabilities), the catalog's first lines are the library
       * tools retrieved for the task (its neighbourhood), before the most used ones.
       */
      query: z.string().min(1).max(8000).optional(),
      /** Capabilities the plan needs; each is retrieved on its own and fused with the question. */
      capabilities: z.array(z.string().min(1).max(500)).max(16).optional(),
      /** The task, so its pool's versions shadow the library's in the neighbourhood's ranking. */
      taskId: TaskId.optional(),
      /** Tools the prompt already shows in detail: left out of the neighbourhood (not the catalog). */
      exclude: z.array(ToolName).max(200).optional(),
    })
    .strict(),
  response: z
    .object({
      snapshot: z.number().int().min(0),
      /** Tools in the library. */
      total: z.number().int().min(0),
      /** Listed tools, most used first. */
      entries: z.array(
        z
          .object({ name: ToolName, hash: ContentHash, purpose: z.string(), calls: z.number().int().min(0) })
          .strict(),
      ),
      /** Library tools not listed (over the budget). */
      omitted: z.number().int().min(0),
      /** Of `entries`, how many lead the list as the task's retrieved neighbourhood. */
      related: z.number().int().min(0).optional(),
      /** The catalog block as the prompt shows it. */
      text: z.string(),
      /** Estimated tokens of `text`. */
      tokens: z.number().int().min(0),
    })
    .strict(),
});
