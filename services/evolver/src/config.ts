import { z } from "zod";
import { DEFAULT_EMBEDDING_THRESHOLD } from "./cluster.js";

/** Evolver settings (on top of the runtime's NATS_URL, NATS_PREFIX, HTTP_PORT …). */
export const EvolverConfigSchema = z.object({
  /** Barriers run at once by this process (1: barriers are serial by nature). */
  EVOLVER_CONCURRENCY: z.coerce.number().int().min(1).default(1),
  /**
   * For online use without batches: run a barrier every this many ms (0 = only when asked, e.g. by
   * `insitu batch` at each batch's end).
   */
  EVOLVE_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
  /** Write → check → test attempts per merged tool (the tool developer's setting). */
  BUILD_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /** Deadline of one sandbox request. */
  SANDBOX_TIMEOUT_MS: z.coerce.number().int().min(1000).default(180_000),
  /** Work-queue ack deadline; the evolver heartbeats while a barrier runs. */
  WORK_ACK_WAIT_MS: z.coerce.number().int().min(500).default(60_000),
  WORK_MAX_DELIVER: z.coerce.number().int().min(2).default(5),
  /** Import specifiers tools may use (comma-separated), shown to the model. */
  TOOL_LIBRARIES: z.string().default(""),
  /**
   * Tokens (input + output, failed answers included) one barrier's model calls may spend; past
   * it no further call is made and unmerged groups stay as they are (ADR 0091).
   */
  EVOLVER_BARRIER_TOKENS: z.coerce.number().int().min(1).default(2_000_000),
  /** Wall time of one evolver model call, retries included (ms). */
  EVOLVER_CALL_TIMEOUT_MS: z.coerce.number().int().min(1000).default(300_000),
  /**
   * Where pre-clustering's vectors come from, as the registry's REGISTRY_EMBEDDINGS: `auto` uses
   * the `embedding` role of the models config (insitu.models.json / GEMINI_API_KEY /
   * INSITU_OPENAI_BASE_URL) and is lexical-only when none is configured; `off` is lexical-only;
   * `hashing` is the offline feature-hashing embedder (surface words, not semantic; tests and
   * demos). Usage is metered as insitu_llm_* with role `evolver`.
   */
  EVOLVER_EMBEDDINGS: z.enum(["auto", "off", "hashing"]).default("auto"),
  /**
   * Cosine of two tools' embeddings at or above which they are pre-clustered, in addition to the
   * lexical links (a union, ADR 0116). Tune it to the embedding model.
   */
  EVOLVER_EMBEDDING_THRESHOLD: z.coerce.number().min(0).max(1).default(DEFAULT_EMBEDDING_THRESHOLD),
  /** Path of a scenario file: the role's model is then the FAKE scripted model (tests, `insitu demo`). */
  INSITU_SCRIPT: z.string().optional(),
});
export type EvolverConfig = z.infer<typeof EvolverConfigSchema>;
