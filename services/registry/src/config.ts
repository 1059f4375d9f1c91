import { z } from "zod";

/** The registry's own settings (merged with the runtime's base config, parsed once at start). */
export const RegistryConfigSchema = z.object({
  /**
   * Where retrieval vectors come from: `auto` uses the `embedding` role of the models config
   * (insitu.models.json / GEMINI_API_KEY / INSITU_OPENAI_BASE_URL) and falls back to lexical-only
   * when none is configured; `off` is lexical-only; `hashing` is the offline feature-hashing
   * embedder (not semantic; for demos and tests).
   */
  REGISTRY_EMBEDDINGS: z.enum(["auto", "off", "hashing"]).default("auto"),
  /**
   * Whether searches fuse the embedder's ranking with BM25: `auto` fuses a configured model's
   * vectors and not the offline hashing embedder's, which lowers recall on the retrieval-quality
   * set (ADR 0055); `on`/`off` force it. Vectors are stored either way.
   */
  REGISTRY_FUSION: z.enum(["auto", "on", "off"]).default("auto"),
  /** How many tool names the top-tools metric exports (label cardinality bound). */
  REGISTRY_TOP_TOOLS: z.coerce.number().int().min(1).max(200).default(20),
  /** Finished tasks the windowed EGL gauge (`insitu_egl_window_ratio`) covers. */
  REGISTRY_EGL_WINDOW: z.coerce.number().int().min(1).max(100_000).default(50),
  /** Tasks per batch for the per-batch gauges (the paper's B). */
  REGISTRY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(16),
  /** Requests handled at once per endpoint in this process. */
  REGISTRY_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
});
export type RegistryConfig = z.infer<typeof RegistryConfigSchema>;
