import type { Bus, KvBucket, ObjectBucket } from "@insitu/bus";
import type {
  AppliedChange,
  ConvergenceStats,
  RegistryAbsorb,
  RegistryCatalog,
  RegistryDiff,
  RegistryFinishTask,
  RegistryGet,
  RegistryHistory,
  RegistryList,
  RegistryRecordUsage,
  RegistryRegister,
  RegistryReviewDecide,
  RegistryReviewList,
  RegistryRollback,
  RegistrySearch,
  RegistrySeries,
  SeriesBatch,
  RegistrySnapshots,
  RegistryStats,
  SnapshotInfo,
  ToolVersionRecord,
} from "@insitu/contracts";
import type { Logger } from "@insitu/telemetry";
import { type ApprovalPolicy, canonicalJson } from "@insitu/tool-kit";
import { Buckets, type VersionDocument } from "./documents.js";
import { LibraryView } from "./library-view.js";
import type { EvidenceTrust } from "./evidence-gate.js";
import type { EmbeddingProvider } from "./retrieval/embedding.js";
import type { Request, Response, RegistryState } from "./registry/state.js";
import * as finishing from "./registry/finish-task.js";
import * as reviews from "./registry/reviews.js";
import * as search from "./registry/search.js";
import * as snapshots from "./registry/snapshots.js";
import * as state from "./registry/state.js";
import * as usage from "./registry/usage.js";
import * as versions from "./registry/versions.js";

export { CAPABILITY_HITS, RELATED_DEPTH, embeddingText } from "./registry/search.js";

export interface RegistryOptions {
  logger: Logger;
  embeddings?: EmbeddingProvider;
  /**
   * Whether searches fuse the embedder's ranking with BM25 (default true when `embeddings` is
   * set). Vectors are stored either way. Off for an embedder that does not improve recall on the
   * retrieval-quality set (the offline hashing one lowers it: ADR 0055).
   */
  fuseEmbeddings?: boolean;
  /** Clock, for tests. */
  now?: () => Date;
  /**
   * The operator's approval policy (docs/adr/0130); default: the built-in defaults (secrets go to
   * review). The service loads it from `INSITU_APPROVAL_POLICY`.
   */
  approvalPolicy?: ApprovalPolicy;
  /**
   * Keys whose evidence is believed (ADR 0125). Without them `register` and `recordUsage` refuse
   * everything with EVIDENCE_UNVERIFIED; reads, absorbs and operator imports work as before.
   */
  trust?: EvidenceTrust;
}

/**
 * The registry's operations over JetStream KV and Object Store. Writes go to the store first
 * (immutable versions with `create`, pools / stats / the `current` snapshot pointer with
 * compare-and-set); reads come from the {@link LibraryView} every replica keeps current by watching
 * the bucket.
 *
 * The operations live beside it in `registry/` along their seams (versions, reviews, snapshots,
 * search, usage, finish-task, shared state); each method here hands them this registry's state.
 */
export class Registry {
  readonly view: LibraryView;
  private readonly now: () => Date;
  private readonly state: RegistryState;

  private constructor(kv: KvBucket, calls: KvBucket, blobs: ObjectBucket, options: RegistryOptions) {
    this.now = options.now ?? (() => new Date());
    this.view = new LibraryView(
      kv,
      blobs,
      options.logger,
      options.embeddings?.model,
      options.embeddings?.dimensions,
    );
    this.state = { kv, calls, blobs, options, view: this.view, now: this.now };
  }

  static async open(bus: Bus, options: RegistryOptions): Promise<Registry> {
    const [kv, calls, blobs] = await Promise.all([
      bus.kv(Buckets.registry),
      bus.kv(Buckets.calls),
      bus.objects(Buckets.blobs),
    ]);
    const registry = new Registry(kv, calls, blobs, options);
    await snapshots.ensureGenesis(registry.state);
    await registry.view.start();
    if (options.embeddings) void search.backfillVectors(registry.state);
    return registry;
  }

  stop(): void {
    this.view.stop();
  }

  async register(request: Request<typeof RegistryRegister>): Promise<Response<typeof RegistryRegister>> {
    return versions.register(this.state, request);
  }

  /** Writes an immutable version (idempotent). True when this call created it. */
  async storeVersion(document: VersionDocument): Promise<boolean> {
    return versions.storeVersion(this.state, document);
  }

  /**
   * Opens a review when the approval policy does not admit every permission of a version:
   * `review` → pending, `deny` → rejected by `policy`. A version already reviewed keeps its
   * review: decisions hold for the same content whichever task rebuilds it.
   */
  async openReview(document: VersionDocument, taskId: string | undefined): Promise<void> {
    return reviews.openReview(this.state, document, taskId);
  }

  async reviewList(
    request: Request<typeof RegistryReviewList>,
  ): Promise<Response<typeof RegistryReviewList>> {
    return reviews.reviewList(this.state, request);
  }

  /** Records an operator's decision (who, when, why) on a reviewed version. */
  async reviewDecide(
    request: Request<typeof RegistryReviewDecide>,
  ): Promise<Response<typeof RegistryReviewDecide>> {
    return reviews.reviewDecide(this.state, request);
  }

  async absorb(request: Request<typeof RegistryAbsorb>): Promise<Response<typeof RegistryAbsorb>> {
    return snapshots.absorb(this.state, request);
  }

  async rollback(request: Request<typeof RegistryRollback>): Promise<Response<typeof RegistryRollback>> {
    return snapshots.rollback(this.state, request);
  }

  /**
   * Commits one snapshot: reads `current`, applies `change` to a copy of its tool set, stores the
   * new body object, then compare-and-sets `current`. With `expected` a stale caller gets
   * SNAPSHOT_CONFLICT; without it (internal callers) the whole step is retried on a fresh read.
   */
  async commit(plan: {
    expected?: number;
    kind: SnapshotInfo["kind"];
    reason: string;
    taskId?: string;
    rollbackTo?: number;
    /** Edits the tool set (and the alias map, name → name) in place; returns what it changed. */
    change: (tools: Map<string, string>, aliases: Map<string, string>) => Promise<AppliedChange[]>;
  }): Promise<SnapshotInfo> {
    return snapshots.commit(this.state, plan);
  }

  /** The alias map (member name → merged name) of a snapshot. */
  async aliasesAt(snapshot: number): Promise<Map<string, string>> {
    return snapshots.aliasesAt(this.state, snapshot);
  }

  async get(request: Request<typeof RegistryGet>): Promise<Response<typeof RegistryGet>> {
    return versions.get(this.state, request);
  }

  /** A whole version, read from the store (code and tests from the object store when large). */
  async record(hash: string): Promise<ToolVersionRecord | undefined> {
    return versions.record(this.state, hash);
  }

  async list(request: Request<typeof RegistryList>): Promise<Response<typeof RegistryList>> {
    return versions.list(this.state, request);
  }

  async history(request: Request<typeof RegistryHistory>): Promise<Response<typeof RegistryHistory>> {
    return versions.history(this.state, request);
  }

  async snapshots(request: Request<typeof RegistrySnapshots>): Promise<Response<typeof RegistrySnapshots>> {
    return snapshots.snapshots(this.state, request);
  }

  async diff(request: Request<typeof RegistryDiff>): Promise<Response<typeof RegistryDiff>> {
    return snapshots.diff(this.state, request);
  }

  async search(request: Request<typeof RegistrySearch>): Promise<Response<typeof RegistrySearch>> {
    return search.search(this.state, request);
  }

  /**
   * The library tools most related to a task, most related first: each of the question and the
   * capabilities ranked to `depth`, fused by reciprocal rank (a tool several texts agree on rises;
   * each capability's best stay near the top). Only library tools (the catalog lists nothing
   * else); a task's pool version shadows its name. Feeds the catalog's neighbourhood (ADR 0106).
   */
  async relatedTools(request: {
    query?: string;
    capabilities?: string[];
    taskId?: string;
    exclude?: string[];
    depth?: number;
    mode?: "auto" | "lexical" | "hybrid";
  }): Promise<string[]> {
    return search.relatedTools(this.state, request);
  }

  /**
   * The compact catalog of the whole current library (most used first, within a token budget):
   * what the Manager's plan prompt lists beside the detailed top-k. With a question or
   * capabilities, the task's neighbourhood ({@link relatedTools}) leads it.
   */
  async catalog(request: Request<typeof RegistryCatalog>): Promise<Response<typeof RegistryCatalog>> {
    return search.catalog(this.state, request);
  }

  /** Stores vectors for versions that lack one for the configured model. */
  async embed(hashes: string[]): Promise<void> {
    return search.embed(this.state, hashes);
  }

  async recordUsage(
    request: Request<typeof RegistryRecordUsage>,
  ): Promise<Response<typeof RegistryRecordUsage>> {
    return usage.recordUsage(this.state, request);
  }

  /** Records that a task touched the registry (counted once, durably). */
  async noteTask(taskId: string): Promise<void> {
    return usage.noteTask(this.state, taskId);
  }

  async stats(request: Request<typeof RegistryStats>): Promise<Response<typeof RegistryStats>> {
    return usage.stats(this.state, request);
  }

  /** The convergence figures, all derived from durable state (so a restart resets nothing). */
  convergence(top = 10): ConvergenceStats {
    return usage.convergence(this.state, top);
  }

  /**
   * Tools admitted to the library: versions that entered some snapshot, imported ones excepted
   * (EGL's numerator, ADR 0056). A repaired or merged version that replaced the library's counts
   * once; a version built and never admitted (dropped, or offered and not merged) does not.
   */
  toolsAdmitted(): number {
    return usage.toolsAdmitted(this.state);
  }

  /** EGL over the last `window` finished tasks, and the last complete batch (for the gauges). */
  seriesFigures(
    window: number,
    batchSize: number,
  ): { windowEgl: number | null; lastBatch: SeriesBatch | undefined } {
    return usage.seriesFigures(this.state, window, batchSize);
  }

  /** The convergence series per query index and per batch (ADR 0056). */
  async series(request: Request<typeof RegistrySeries>): Promise<Response<typeof RegistrySeries>> {
    return usage.series(this.state, request);
  }

  async finishTask(
    request: Request<typeof RegistryFinishTask>,
  ): Promise<Response<typeof RegistryFinishTask>> {
    return finishing.finishTask(this.state, request);
  }

  /** A version's metadata: from the view, else from the store (another replica just wrote it). */
  async versionMeta(hash: string) {
    return state.versionMeta(this.state, hash);
  }

  /** Reads every stored version with its code and tests (export). */
  async allRecords(): Promise<ToolVersionRecord[]> {
    return versions.allRecords(this.state);
  }

  /** The canonical bytes a version's hash covers (for export checks). */
  static sourceJson(record: { code: string; manifest: unknown; tests: unknown }): string {
    return canonicalJson({ code: record.code, manifest: record.manifest, tests: record.tests });
  }
}
