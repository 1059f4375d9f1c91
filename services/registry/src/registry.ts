import { randomUUID, createHash } from "node:crypto";
import type { Bus, KvBucket, ObjectBucket } from "@insitu/bus";
import {
  type AppliedChange,
  type ConvergenceStats,
  type LibraryChange,
  type Payload,
  type RegistryAbsorb,
  type RegistryCatalog,
  type RegistryDiff,
  RegistryErrorCode,
  type RegistryFinishTask,
  type RegistryGet,
  type RegistryHistory,
  type RegistryList,
  type RegistryRecordUsage,
  type RegistryRegister,
  type RegistryReviewDecide,
  type RegistryReviewList,
  type RegistryRollback,
  type RegistrySearch,
  type RegistrySeries,
  type SeriesBatch,
  type RegistrySnapshots,
  type RegistryStats,
  type Reply,
  type SnapshotInfo,
  type ToolVersionRecord,
  type UsageRecord,
  type VersionStatus,
  type VersionSummary,
} from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError, notFound } from "@insitu/errors";
import type { Logger } from "@insitu/telemetry";
import {
  type ApprovalPolicy,
  canonicalJson,
  computeToolHash,
  defaultApprovalPolicy,
  evaluateApproval,
  type ToolTestCase,
} from "@insitu/tool-kit";
import {
  Buckets,
  Keys,
  MAX_TRACKED_TASKS,
  type PoolDocument,
  type ReviewDocument,
  type SeriesDocument,
  RECENT_CALL_IDS,
  type SnapshotBody,
  type SnapshotDocument,
  type StatsDocument,
  type VersionDocument,
  hexOf,
} from "./documents.js";
import { type CatalogTool, DEFAULT_CATALOG_TOKENS, buildCatalog } from "./catalog.js";
import { BODY_LIMITS, LibraryView } from "./library-view.js";
import { versionBodyProblem } from "./document-guards.js";
import { type EvidenceTrust, checkTestEvidence, checkUsageEvidence } from "./evidence-gate.js";
import { convergenceSeries } from "./series.js";
import type { EmbeddingProvider } from "./retrieval/embedding.js";
import { RRF_K } from "./retrieval/fuse.js";
import { parameterNames } from "./retrieval/tokenize.js";

/** A version document above this many bytes keeps its code and tests in the object store. */
const INLINE_VERSION_BYTES = 128 * 1024;
/** Changes kept inline in a snapshot record; the full list is always in its body object. */
const INLINE_CHANGES = 200;
/** Hits each capability of a search adds beyond the question's top-k (when not already in it). */
export const CAPABILITY_HITS = 3;
/** Retrieval depth per text of a task's catalog neighbourhood (ADR 0106). */
export const RELATED_DEPTH = 32;
/** Compare-and-set attempts before an internal commit gives up (each attempt re-reads). */
const MAX_ATTEMPTS = 200;

const encoder = new TextEncoder();

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

type Request<C> = Payload<C>;
type Response<C> = Reply<C>;

/**
 * The registry's operations over JetStream KV and Object Store. Writes go to the store first
 * (immutable versions with `create`, pools / stats / the `current` snapshot pointer with
 * compare-and-set); reads come from the {@link LibraryView} every replica keeps current by watching
 * the bucket.
 */
export class Registry {
  readonly view: LibraryView;
  private readonly now: () => Date;

  private constructor(
    private readonly kv: KvBucket,
    private readonly calls: KvBucket,
    private readonly blobs: ObjectBucket,
    private readonly options: RegistryOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.view = new LibraryView(
      kv,
      blobs,
      options.logger,
      options.embeddings?.model,
      options.embeddings?.dimensions,
    );
  }

  static async open(bus: Bus, options: RegistryOptions): Promise<Registry> {
    const [kv, calls, blobs] = await Promise.all([
      bus.kv(Buckets.registry),
      bus.kv(Buckets.calls),
      bus.objects(Buckets.blobs),
    ]);
    const registry = new Registry(kv, calls, blobs, options);
    await registry.ensureGenesis();
    await registry.view.start();
    if (options.embeddings) void registry.backfillVectors();
    return registry;
  }

  stop(): void {
    this.view.stop();
  }

  // ---------------------------------------------------------------- register

  async register(request: Request<typeof RegistryRegister>): Promise<Response<typeof RegistryRegister>> {
    // Before anything is read or written: a version is admitted only on the sandbox's own word.
    const verified = checkTestEvidence(request, this.options.trust);
    const hash = computeToolHash({ manifest: request.manifest, code: request.code, tests: request.tests });
    const parents = request.parents ?? [];
    for (const parent of parents) {
      if (!(await this.versionMeta(parent))) {
        throw new InsituError(`parent version ${parent} is not registered`, {
          code: RegistryErrorCode.invalidVersion,
          category: ErrorCategory.user,
          details: { parent },
        });
      }
    }
    let pool = await this.kv.get<PoolDocument>(Keys.pool(request.taskId));
    if (pool?.value.state === "finished") {
      throw new InsituError(`task ${request.taskId} is finished; its pool takes no more versions`, {
        code: RegistryErrorCode.poolFinished,
        category: ErrorCategory.user,
        details: { taskId: request.taskId },
      });
    }

    const document: VersionDocument = {
      hash,
      name: request.manifest.name,
      manifest: request.manifest,
      origin: request.origin ?? (parents.length > 0 ? "repaired" : "created"),
      createdByTask: request.taskId,
      parents,
      createdAt: this.now().toISOString(),
      evidence: [verified, ...request.evidence],
      code: request.code,
      tests: request.tests,
    };
    const created = await this.storeVersion(document);
    // Before the pool holds it: a version the policy holds back is never served, not even briefly.
    await this.openReview(document, request.taskId);

    // Add to the task's pool (compare-and-set; concurrent registrations into one pool all land).
    for (let attempt = 0; ; attempt++) {
      const versions = pool?.value.versions ?? [];
      if (pool?.value.state === "finished") {
        throw new InsituError(`task ${request.taskId} finished while registering`, {
          code: RegistryErrorCode.poolFinished,
          category: ErrorCategory.user,
        });
      }
      if (versions.some((entry) => entry.hash === hash)) break;
      const next: PoolDocument = {
        taskId: request.taskId,
        state: "open",
        versions: [...versions, { hash, name: document.name, at: this.now().toISOString() }],
      };
      try {
        const revision = pool
          ? await this.kv.update(Keys.pool(request.taskId), next, pool.revision)
          : await this.kv.create(Keys.pool(request.taskId), next);
        await this.view.applyOwn(Keys.pool(request.taskId), next, revision);
        break;
      } catch (error) {
        if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
        pool = await this.kv.get<PoolDocument>(Keys.pool(request.taskId));
      }
    }
    await this.noteTask(request.taskId);
    if (this.options.embeddings) await this.embed([hash]);
    return { hash, name: document.name, created, status: this.view.status(hash) };
  }

  /** Writes an immutable version (idempotent). True when this call created it. */
  async storeVersion(document: VersionDocument): Promise<boolean> {
    let stored: VersionDocument = document;
    if (encoder.encode(JSON.stringify(document)).byteLength > INLINE_VERSION_BYTES) {
      const body = `version-${hexOf(document.hash)}`;
      await this.blobs.put(
        body,
        encoder.encode(JSON.stringify({ code: document.code, tests: document.tests })),
      );
      const { code: _code, tests: _tests, ...rest } = document;
      stored = { ...rest, body };
    }
    try {
      const revision = await this.kv.create(Keys.version(document.hash), stored);
      await this.view.applyOwn(Keys.version(document.hash), stored, revision);
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  // ---------------------------------------------------------------- operator review (ADR 0130)

  /**
   * Opens a review when the approval policy does not admit every permission of a version:
   * `review` → pending, `deny` → rejected by `policy`. A version already reviewed keeps its
   * review: decisions hold for the same content whichever task rebuilds it.
   */
  async openReview(document: VersionDocument, taskId: string | undefined): Promise<void> {
    if (this.view.reviews.has(document.hash)) return;
    const evaluation = evaluateApproval(
      this.options.approvalPolicy ?? defaultApprovalPolicy(),
      document.manifest,
    );
    if (evaluation.decision === "auto") return;
    const at = this.now().toISOString();
    const review: ReviewDocument = {
      hash: document.hash,
      name: document.name,
      state: evaluation.decision === "deny" ? "rejected" : "pending",
      ...(taskId ? { requestedByTask: taskId } : {}),
      requestedAt: at,
      permissions: evaluation.permissions,
      decisions:
        evaluation.decision === "deny"
          ? [
              {
                decision: "deny",
                by: "policy",
                at,
                reason: `denied by the approval policy: ${evaluation.permissions
                  .filter((item) => item.decision === "deny")
                  .map((item) => `${item.permission} (rule ${item.rule})`)
                  .join(", ")}`.slice(0, 2000),
              },
            ]
          : [],
    };
    try {
      const revision = await this.kv.create(Keys.review(document.hash), review);
      await this.view.applyOwn(Keys.review(document.hash), review, revision);
    } catch (error) {
      if (!isConflict(error)) throw error;
      // Another replica opened it first: read it so this one serves what it says.
      const stored = await this.kv.get<ReviewDocument>(Keys.review(document.hash));
      if (stored) await this.view.applyOwn(Keys.review(document.hash), stored.value, stored.revision);
    }
  }

  async reviewList(
    request: Request<typeof RegistryReviewList>,
  ): Promise<Response<typeof RegistryReviewList>> {
    await this.view.settled();
    const state = request.state ?? "pending";
    const reviews = [...this.view.reviews.values()]
      .filter((review) => review.state === state)
      .sort((left, right) =>
        left.requestedAt < right.requestedAt ? -1 : left.requestedAt > right.requestedAt ? 1 : 0,
      );
    const versions = reviews
      .slice(0, request.limit ?? 100)
      .map((review) => this.view.summary(review.hash))
      .filter((summary): summary is VersionSummary => summary !== undefined);
    return { total: reviews.length, versions };
  }

  /** Records an operator's decision (who, when, why) on a reviewed version. */
  async reviewDecide(
    request: Request<typeof RegistryReviewDecide>,
  ): Promise<Response<typeof RegistryReviewDecide>> {
    const key = Keys.review(request.hash);
    for (let attempt = 0; ; attempt++) {
      const stored = await this.kv.get<ReviewDocument>(key);
      if (!stored) {
        if (!(await this.versionMeta(request.hash)))
          throw notFound(`tool version ${request.hash}`, { hash: request.hash });
        throw new InsituError(
          `version ${request.hash} was admitted by the policy; it has no review to decide`,
          {
            code: RegistryErrorCode.reviewConflict,
            category: ErrorCategory.user,
            details: { hash: request.hash },
          },
        );
      }
      if (stored.value.decisions[0]?.by === "policy") {
        // The operator's own rule denies it: only changing the policy can, not a review.
        throw new InsituError(
          `version ${request.hash} is denied by the approval policy; change the policy instead`,
          {
            code: RegistryErrorCode.reviewConflict,
            category: ErrorCategory.user,
            details: { hash: request.hash, reason: stored.value.decisions[0].reason },
          },
        );
      }
      const state = request.decision === "approve" ? "approved" : "rejected";
      if (stored.value.state === state) return this.view.summary(request.hash) as VersionSummary;
      if (stored.value.decisions.length >= 100) {
        throw new InsituError(`version ${request.hash} has had 100 decisions; no more are recorded`, {
          code: RegistryErrorCode.reviewConflict,
          category: ErrorCategory.user,
        });
      }
      const next: ReviewDocument = {
        ...stored.value,
        state,
        decisions: [
          ...stored.value.decisions,
          {
            decision: request.decision,
            by: request.by,
            at: this.now().toISOString(),
            reason: request.reason,
          },
        ],
      };
      try {
        const revision = await this.kv.update(key, next, stored.revision);
        await this.view.applyOwn(key, next, revision);
        this.options.logger.info("review decided", {
          hash: request.hash,
          name: next.name,
          decision: request.decision,
          by: request.by,
        });
        return this.view.summary(request.hash) as VersionSummary;
      } catch (error) {
        if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  // ---------------------------------------------------------------- snapshots

  async absorb(request: Request<typeof RegistryAbsorb>): Promise<Response<typeof RegistryAbsorb>> {
    return this.commit({
      expected: request.expectedSnapshot,
      kind: "absorb",
      reason: request.reason,
      ...(request.taskId === undefined ? {} : { taskId: request.taskId }),
      change: (tools, aliases) => this.applyChanges(tools, request.changes, aliases),
    });
  }

  async rollback(request: Request<typeof RegistryRollback>): Promise<Response<typeof RegistryRollback>> {
    const target = await this.snapshotDocument(request.to);
    const targetBody = await this.view.body(target.body);
    const targetTools = targetBody.tools;
    const targetAliases = targetBody.aliases ?? {};
    return this.commit({
      expected: request.expectedSnapshot,
      kind: "rollback",
      reason: request.reason,
      rollbackTo: request.to,
      change: async (tools, aliases) => {
        aliases.clear();
        for (const [alias, target] of Object.entries(targetAliases)) aliases.set(alias, target);
        const changes: AppliedChange[] = [];
        for (const [name, hash] of tools) {
          if (!(name in targetTools))
            changes.push({ op: "deprecate", name, previous: hash, reason: request.reason });
        }
        for (const [name, hash] of Object.entries(targetTools)) {
          const previous = tools.get(name);
          if (previous === hash) continue;
          const change: AppliedChange = { op: "restore", name, hash };
          if (previous) change.previous = previous;
          changes.push(change);
        }
        tools.clear();
        for (const [name, hash] of Object.entries(targetTools)) tools.set(name, hash);
        return changes;
      },
    });
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
    for (let attempt = 0; ; attempt++) {
      const current = await this.readCurrent();
      const number = current.value.info.number;
      if (plan.expected !== undefined && plan.expected !== number) {
        throw snapshotConflict(plan.expected, number);
      }
      // A current snapshot whose body is unreadable is built on the tool set the view serves in
      // its place (the newest earlier snapshot that reads): the commit heals the pointer.
      const currentBody = (await this.view.usableBody(current.value)).body;
      const tools = new Map(Object.entries(currentBody.tools));
      const aliases = new Map(Object.entries(currentBody.aliases ?? {}));
      const changes = await plan.change(tools, aliases);
      const sorted = Object.fromEntries([...tools].sort(([left], [right]) => (left < right ? -1 : 1)));
      const body: SnapshotBody = { tools: sorted, changes };
      // A name in the tool set is itself, never an alias (a later add under a merged name wins).
      for (const name of tools.keys()) aliases.delete(name);
      if (aliases.size > 0)
        body.aliases = Object.fromEntries([...aliases].sort(([left], [right]) => (left < right ? -1 : 1)));
      const bodyName = `snapshot-${number + 1}-${randomUUID()}`;
      await this.blobs.put(bodyName, encoder.encode(JSON.stringify(body)));
      const info: SnapshotInfo = {
        number: number + 1,
        time: this.now().toISOString(),
        kind: plan.kind,
        reason: plan.reason,
        size: tools.size,
        changes: changes.slice(0, INLINE_CHANGES),
        changeCount: changes.length,
      };
      if (plan.taskId !== undefined) info.taskId = plan.taskId;
      if (plan.rollbackTo !== undefined) info.rollbackTo = plan.rollbackTo;
      const document: SnapshotDocument = { info, body: bodyName };
      // Archive the snapshot we build on before moving past it: if its own committer died right
      // after its compare-and-set, this heals the archive (the value is the same either way).
      await this.kv.put(Keys.snapshot(number), current.value);
      try {
        const revision = await this.kv.update(Keys.current, document, current.revision);
        const archived = await this.kv.put(Keys.snapshot(info.number), document);
        await this.view.applyOwn(Keys.current, document, revision);
        await this.view.applyOwn(Keys.snapshot(info.number), document, archived);
        return info;
      } catch (error) {
        await this.blobs.delete(bodyName);
        if (!isConflict(error)) throw error;
        if (plan.expected !== undefined) {
          const latest = await this.readCurrent();
          throw snapshotConflict(plan.expected, latest.value.info.number);
        }
        if (attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private async applyChanges(
    tools: Map<string, string>,
    changes: LibraryChange[],
    aliases: Map<string, string> = new Map(),
  ): Promise<AppliedChange[]> {
    const applied: AppliedChange[] = [];
    for (const [index, change] of changes.entries()) {
      const invalid = (message: string): InsituError =>
        new InsituError(`change ${index} (${change.op}): ${message}`, {
          code: RegistryErrorCode.invalidChange,
          category: ErrorCategory.user,
          details: { index, change: change as never },
        });
      if (change.op === "deprecate") {
        const previous = tools.get(change.name);
        if (!previous) throw invalid(`the library has no tool named ${change.name}`);
        tools.delete(change.name);
        const entry: AppliedChange = { op: "deprecate", name: change.name, previous };
        if (change.reason) entry.reason = change.reason;
        applied.push(entry);
        continue;
      }
      const meta = await this.versionMeta(change.hash);
      if (!meta) throw invalid(`version ${change.hash} is not registered`);
      // A version held back by the approval policy never enters the library (ADR 0130).
      if (!this.view.admitted(change.hash)) {
        throw invalid(
          `version ${change.hash} is ${this.view.status(change.hash)}; an operator must approve it first`,
        );
      }
      const previous = tools.get(meta.name);
      if (change.op === "merge") {
        applied.push(...(await this.applyMerge(tools, aliases, change, meta.name, invalid)));
        continue;
      }
      if (change.op === "add") {
        if (previous) throw invalid(`the library already has ${meta.name} (${previous}); use replace`);
        tools.set(meta.name, change.hash);
        applied.push({ op: "add", name: meta.name, hash: change.hash });
      } else {
        if (!previous) throw invalid(`the library has no tool named ${meta.name}; use add`);
        if (change.expected && change.expected !== previous) {
          throw invalid(`${meta.name} is at ${previous}, not the expected ${change.expected}`);
        }
        tools.set(meta.name, change.hash);
        applied.push({ op: "replace", name: meta.name, hash: change.hash, previous });
      }
    }
    return applied;
  }

  /**
   * One `merge` change: the merged version takes its own name; each member name that differs
   * leaves the tool set and becomes an alias of the merged name (aliases that pointed at a member
   * name follow it). A member must be the library's version of its name or a version outside the
   * library (offered), never a stale one the caller did not review.
   */
  private async applyMerge(
    tools: Map<string, string>,
    aliases: Map<string, string>,
    change: Extract<LibraryChange, { op: "merge" }>,
    mergedName: string,
    invalid: (message: string) => InsituError,
  ): Promise<AppliedChange[]> {
    const applied: AppliedChange[] = [];
    const mergedMeta = await this.versionMeta(change.hash);
    for (const member of change.members) {
      if (!mergedMeta?.parents.includes(member)) {
        throw invalid(`member ${member} is not a parent of the merged version ${change.hash}`);
      }
    }
    const previous = tools.get(mergedName);
    tools.set(mergedName, change.hash);
    const entry: AppliedChange = {
      op: "merge",
      name: mergedName,
      hash: change.hash,
      members: change.members,
    };
    if (previous) entry.previous = previous;
    if (change.reason) entry.reason = change.reason;
    applied.push(entry);
    for (const member of change.members) {
      const memberMeta = await this.versionMeta(member);
      if (!memberMeta) throw invalid(`member version ${member} is not registered`);
      const name = memberMeta.name;
      if (name === mergedName) continue;
      const held = tools.get(name);
      tools.delete(name);
      aliases.set(name, mergedName);
      for (const [alias, target] of aliases) if (target === name) aliases.set(alias, mergedName);
      const aliasEntry: AppliedChange = { op: "alias", name, target: mergedName };
      if (held) aliasEntry.previous = held;
      applied.push(aliasEntry);
    }
    return applied;
  }

  private async readCurrent(): Promise<{ value: SnapshotDocument; revision: number }> {
    const entry = await this.kv.get<SnapshotDocument>(Keys.current);
    if (entry) return entry;
    await this.ensureGenesis();
    const created = await this.kv.get<SnapshotDocument>(Keys.current);
    if (!created) throw new InsituError("library has no current snapshot", { code: ErrorCode.internal });
    return created;
  }

  /** Snapshot 0, the empty library, committed once by whichever replica gets there first. */
  private async ensureGenesis(): Promise<void> {
    if (await this.kv.get(Keys.current)) return;
    const body: SnapshotBody = { tools: {}, changes: [] };
    const bodyName = "snapshot-0-genesis";
    await this.blobs.put(bodyName, encoder.encode(JSON.stringify(body)));
    const document: SnapshotDocument = {
      info: {
        number: 0,
        time: this.now().toISOString(),
        kind: "genesis",
        reason: "empty library",
        size: 0,
        changes: [],
        changeCount: 0,
      },
      body: bodyName,
    };
    try {
      await this.kv.create(Keys.current, document);
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  private async snapshotDocument(number: number): Promise<SnapshotDocument> {
    const known = this.view.snapshots.get(number);
    if (known) return known;
    const archived = await this.kv.get<SnapshotDocument>(Keys.snapshot(number));
    if (archived) return archived.value;
    const current = await this.readCurrent();
    if (current.value.info.number === number) return current.value;
    throw notFound(`snapshot ${number}`, { snapshot: number });
  }

  private async toolsAt(
    snapshot: number | undefined,
  ): Promise<{ number: number; tools: Map<string, string> }> {
    if (snapshot === undefined || snapshot === this.view.snapshotNumber) {
      return { number: this.view.snapshotNumber, tools: this.view.currentTools };
    }
    const document = await this.snapshotDocument(snapshot);
    return { number: snapshot, tools: new Map(Object.entries((await this.view.body(document.body)).tools)) };
  }

  /** The alias map (member name → merged name) of a snapshot. */
  async aliasesAt(snapshot: number): Promise<Map<string, string>> {
    if (snapshot === this.view.snapshotNumber) return this.view.currentAliases;
    const document = await this.snapshotDocument(snapshot);
    return new Map(Object.entries((await this.view.body(document.body)).aliases ?? {}));
  }

  // ---------------------------------------------------------------- reads

  async get(request: Request<typeof RegistryGet>): Promise<Response<typeof RegistryGet>> {
    await this.freshLibrary();
    let hash: string | undefined;
    if (request.by === "hash") hash = request.hash;
    else if (request.by === "ordinal") hash = this.view.byName.get(request.name)?.[request.ordinal - 1];
    else {
      if (request.taskId) hash = await this.freshPoolVersion(request.taskId, request.name);
      const at = await this.toolsAt(request.snapshot);
      hash ??= at.tools.get(request.name);
      // A merged member's name resolves to the merged tool.
      if (hash === undefined) {
        const target = (await this.aliasesAt(at.number)).get(request.name);
        if (target) hash = at.tools.get(target);
      }
    }
    const record = hash ? await this.record(hash) : undefined;
    if (!record) throw notFound(`tool ${JSON.stringify(request)}`, { request: request as never });
    return record;
  }

  /** A whole version, read from the store (code and tests from the object store when large). */
  async record(hash: string): Promise<ToolVersionRecord | undefined> {
    const entry = await this.kv.get<VersionDocument>(Keys.version(hash));
    if (!entry) return undefined;
    const document = entry.value;
    let code = document.code;
    let tests = document.tests;
    if (document.body) ({ code, tests } = await this.versionBody(hash, document.body));
    if (!this.view.versions.has(hash)) await this.view.applyOwn(Keys.version(hash), document, entry.revision);
    const summary = this.view.summary(hash) as VersionSummary;
    const record: ToolVersionRecord = {
      ...summary,
      manifest: document.manifest,
      code: code ?? "",
      tests: tests ?? [],
      evidence: document.evidence,
    };
    if (this.view.search.hasVector(hash) && this.options.embeddings) {
      record.embeddingModel = this.options.embeddings.model;
    }
    return record;
  }

  /**
   * A large version's code and tests from its body object. Corrupt or wrong-shaped bodies are
   * quarantined; then (or when it is gone) the version is TOOL_VERSION_UNAVAILABLE, a server-side
   * fault: the version can be listed and searched, not run.
   */
  private async versionBody(hash: string, name: string): Promise<{ code: string; tests: ToolTestCase[] }> {
    const value = await this.blobs.getJson(name, BODY_LIMITS);
    const problem =
      value === undefined ? "missing from the object store, or quarantined" : versionBodyProblem(value);
    if (value !== undefined && problem) await this.blobs.quarantine(name, problem);
    if (!problem) return value as { code: string; tests: ToolTestCase[] };
    throw new InsituError(`the code and tests of version ${hash} are unreadable: ${problem}`, {
      code: RegistryErrorCode.versionUnavailable,
      category: ErrorCategory.system,
      details: { hash, body: name, reason: problem },
    });
  }

  async list(request: Request<typeof RegistryList>): Promise<Response<typeof RegistryList>> {
    await this.freshLibrary();
    let hashes: string[];
    let snapshot = this.view.snapshotNumber;
    const scope = request.scope ?? "library";
    if (scope === "pool") {
      if (!request.taskId) throw badRequest("scope pool needs taskId");
      const entry = await this.kv.get<PoolDocument>(Keys.pool(request.taskId));
      if (entry) {
        await this.view.applyOwn(Keys.pool(request.taskId), entry.value, entry.revision);
        await Promise.all(entry.value.versions.map(({ hash }) => this.versionMeta(hash)));
      }
      hashes = (this.view.pools.get(request.taskId)?.versions ?? []).map((entry) => entry.hash);
    } else if (scope === "status") {
      if (!request.status) throw badRequest("scope status needs status");
      const wanted: VersionStatus = request.status;
      hashes = [...this.view.versions.keys()].filter((hash) => this.view.status(hash) === wanted);
    } else {
      const at = await this.toolsAt(request.snapshot);
      snapshot = at.number;
      hashes = [...at.tools.values()];
    }
    let summaries = hashes.map((hash) => this.view.summary(hash)).filter((item) => item !== undefined);
    if (request.nameContains)
      summaries = summaries.filter((item) => item.name.includes(request.nameContains ?? ""));
    summaries.sort((left, right) =>
      left.name < right.name ? -1 : left.name > right.name ? 1 : left.ordinal - right.ordinal,
    );
    return {
      snapshot,
      total: summaries.length,
      tools: summaries.slice(request.offset ?? 0, (request.offset ?? 0) + (request.limit ?? 100)),
    };
  }

  async history(request: Request<typeof RegistryHistory>): Promise<Response<typeof RegistryHistory>> {
    await this.freshLibrary();
    const hashes = this.view.byName.get(request.name) ?? [];
    const events: Response<typeof RegistryHistory>["events"] = [];
    const numbers = [...this.view.snapshots.keys()].sort((left, right) => left - right);
    for (const number of numbers) {
      const document = this.view.snapshots.get(number);
      if (!document) continue;
      const { info } = document;
      // An unreadable body leaves the inline changes (the first 200) to tell.
      const changes =
        info.changeCount > info.changes.length
          ? ((await this.view.body(document.body).catch(() => undefined))?.changes ?? info.changes)
          : info.changes;
      for (const change of changes) {
        if (change.name === request.name)
          events.push({ snapshot: number, time: info.time, kind: info.kind, change });
      }
    }
    if (hashes.length === 0 && events.length === 0)
      throw notFound(`tool ${request.name}`, { name: request.name });
    const response: Response<typeof RegistryHistory> = {
      name: request.name,
      versions: hashes.map((hash) => this.view.summary(hash)).filter((item) => item !== undefined),
      events,
    };
    const current = this.view.currentTools.get(request.name);
    if (current) response.current = current;
    return response;
  }

  async snapshots(request: Request<typeof RegistrySnapshots>): Promise<Response<typeof RegistrySnapshots>> {
    await this.freshLibrary();
    const before = request.before ?? Number.POSITIVE_INFINITY;
    const infos = [...this.view.snapshots.values()]
      .map((document) => document.info)
      .filter((info) => info.number < before)
      .sort((left, right) => right.number - left.number)
      .slice(0, request.limit ?? 50);
    return { current: this.view.snapshotNumber, snapshots: infos };
  }

  async diff(request: Request<typeof RegistryDiff>): Promise<Response<typeof RegistryDiff>> {
    await this.freshLibrary();
    const from = await this.toolsAt(request.from);
    const to = await this.toolsAt(request.to);
    const response: Response<typeof RegistryDiff> = {
      from: from.number,
      to: to.number,
      added: [],
      removed: [],
      changed: [],
      unchanged: 0,
    };
    for (const [name, hash] of to.tools) {
      const before = from.tools.get(name);
      if (before === undefined) response.added.push({ name, hash });
      else if (before !== hash) response.changed.push({ name, from: before, to: hash });
      else response.unchanged++;
    }
    for (const [name, hash] of from.tools) if (!to.tools.has(name)) response.removed.push({ name, hash });
    for (const list of [response.added, response.removed, response.changed]) {
      list.sort((left, right) => (left.name < right.name ? -1 : 1));
    }
    return response;
  }

  // ---------------------------------------------------------------- retrieval

  async search(request: Request<typeof RegistrySearch>): Promise<Response<typeof RegistrySearch>> {
    const started = performance.now();
    await this.freshLibrary();
    const texts = [request.query, ...(request.capabilities ?? [])];
    const vectors = await this.queryVectors(texts, request.mode);
    const vector = vectors[0];
    if (request.taskId) await this.noteTask(request.taskId);
    const k = request.k ?? 10;
    const hits = this.view.search.query(request.query, k, request.taskId, vector);
    // Each capability keeps its own best few (DESIGN "The loop" 9: detailed top-k per needed
    // capability), whatever the question's ranking holds: one fused list would let a long
    // question's many terms crowd out a short capability's single right tool.
    const seen = new Set(hits.map((hit) => hit.hash));
    texts.slice(1).forEach((text, index) => {
      for (const hit of this.view.search.query(text, CAPABILITY_HITS, request.taskId, vectors[index + 1])) {
        if (seen.has(hit.hash)) continue;
        seen.add(hit.hash);
        hits.push(hit);
      }
    });
    return {
      mode: vector ? "hybrid" : "lexical",
      snapshot: this.view.snapshotNumber,
      hits,
      tookMs: performance.now() - started,
    };
  }

  /**
   * Query vectors for texts when searches fuse the embedder (`undefined` entries otherwise). A
   * model outage degrades retrieval to lexical; it must not fail the task.
   */
  private async queryVectors(
    texts: string[],
    mode: "auto" | "lexical" | "hybrid" | undefined,
  ): Promise<(number[] | undefined)[]> {
    const embeddings = this.options.embeddings;
    const fuse = mode === "hybrid" || (mode !== "lexical" && this.options.fuseEmbeddings !== false);
    if (!fuse || embeddings === undefined || this.view.search.vectorCount === 0) return [];
    try {
      return await embeddings.embed(texts);
    } catch (error) {
      this.options.logger.warn("query embedding failed; answering with lexical ranking", { error });
      return [];
    }
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
    await this.freshLibrary();
    const texts = [request.query, ...(request.capabilities ?? [])].filter(
      (text): text is string => text !== undefined && text.trim() !== "",
    );
    if (texts.length === 0) return [];
    const depth = request.depth ?? RELATED_DEPTH;
    const vectors = await this.queryVectors(texts, request.mode);
    const excluded = new Set(request.exclude ?? []);
    const scores = new Map<string, number>();
    texts.forEach((text, index) => {
      const hits = this.view.search.query(text, depth, request.taskId, vectors[index]);
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
  async catalog(request: Request<typeof RegistryCatalog>): Promise<Response<typeof RegistryCatalog>> {
    await this.freshLibrary();
    const tools: CatalogTool[] = [];
    for (const [name, hash] of this.view.currentTools) {
      const meta = this.view.versions.get(hash);
      if (!meta) continue;
      let calls = 0;
      for (const version of this.view.byName.get(name) ?? [])
        calls += this.view.stats.get(version)?.calls ?? 0;
      tools.push({ name, hash, description: meta.manifest.description, calls });
    }
    const related =
      request.query || request.capabilities?.length
        ? await this.relatedTools({
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
    return { snapshot: this.view.snapshotNumber, ...catalog };
  }

  /** Stores vectors for versions that lack one for the configured model. */
  async embed(hashes: string[]): Promise<void> {
    const embeddings = this.options.embeddings;
    if (!embeddings) return;
    const missing = hashes.filter(
      (hash) => !this.view.search.hasVector(hash) && this.view.versions.has(hash),
    );
    for (let start = 0; start < missing.length; start += 64) {
      const batch = missing.slice(start, start + 64);
      try {
        const vectors = await embeddings.embed(
          batch.map((hash) => embeddingText(this.view.versions.get(hash)!)),
        );
        await Promise.all(
          batch.map(async (hash, index) => {
            const vector = vectors[index];
            if (!vector) return;
            const document = { model: embeddings.model, vector };
            const revision = await this.kv.put(Keys.vector(hash), document);
            await this.view.applyOwn(Keys.vector(hash), document, revision);
          }),
        );
      } catch (error) {
        this.options.logger.warn("embedding failed; these versions stay lexical-only until re-embedded", {
          error,
          versions: batch.length,
        });
      }
    }
  }

  private async backfillVectors(): Promise<void> {
    const hashes = [...this.view.currentTools.values()];
    for (const pool of this.view.pools.values()) {
      if (pool.state === "open") hashes.push(...pool.versions.map((entry) => entry.hash));
    }
    await this.embed(hashes);
  }

  // ---------------------------------------------------------------- usage

  async recordUsage(
    request: Request<typeof RegistryRecordUsage>,
  ): Promise<Response<typeof RegistryRecordUsage>> {
    checkUsageEvidence(request, this.options.trust);
    const duplicates: string[] = [];
    let recorded = 0;
    for (const call of request.calls) {
      if (await this.recordCall(call)) recorded++;
      else duplicates.push(call.callId);
    }
    return { recorded, duplicates };
  }

  private async recordCall(call: UsageRecord): Promise<boolean> {
    const meta = await this.versionMeta(call.hash);
    if (!meta) throw notFound(`version ${call.hash}`, { hash: call.hash });
    const time = call.time ?? this.now().toISOString();
    const key = Keys.stats(call.hash);
    let entry = await this.kv.get<StatsDocument>(key);
    for (let attempt = 0; ; attempt++) {
      const stats: StatsDocument = entry?.value ?? {
        hash: call.hash,
        name: meta.name,
        calls: 0,
        byOutcome: {},
        successes: 0,
        reuseCalls: 0,
        latencySumMs: 0,
        tasks: [],
        recentCallIds: [],
      };
      if (stats.recentCallIds.includes(call.callId)) return false;
      const next: StatsDocument = {
        ...stats,
        calls: stats.calls + 1,
        byOutcome: { ...stats.byOutcome, [call.outcome]: (stats.byOutcome[call.outcome] ?? 0) + 1 },
        // A tool's answer that it cannot serve an input is the tool working (ADR 0057).
        successes:
          stats.successes + (call.outcome === "success" || call.outcome === "rejected-input" ? 1 : 0),
        reuseCalls: stats.reuseCalls + (meta.createdByTask !== call.taskId ? 1 : 0),
        latencySumMs: stats.latencySumMs + call.latencyMs,
        lastCallAt: !stats.lastCallAt || time > stats.lastCallAt ? time : stats.lastCallAt,
        tasks:
          stats.tasks.includes(call.taskId) || stats.tasks.length >= MAX_TRACKED_TASKS
            ? stats.tasks
            : [...stats.tasks, call.taskId],
        recentCallIds: [...stats.recentCallIds, call.callId].slice(-RECENT_CALL_IDS),
      };
      try {
        const revision = entry
          ? await this.kv.update(key, next, entry.revision)
          : await this.kv.create(key, next);
        await this.view.applyOwn(key, next, revision);
        break;
      } catch (error) {
        if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
        entry = await this.kv.get<StatsDocument>(key);
      }
    }
    // The raw record, for audits and replays (the aggregate above is what counts).
    await this.calls.put(callKey(call.callId), { ...call, time, name: meta.name });
    await this.noteTask(call.taskId);
    return true;
  }

  /** Records that a task touched the registry (counted once, durably). */
  async noteTask(taskId: string): Promise<void> {
    if (this.view.tasks.has(taskId)) return;
    const document = { taskId, firstSeen: this.now().toISOString() };
    try {
      const revision = await this.kv.create(Keys.task(taskId), document);
      await this.view.applyOwn(Keys.task(taskId), document, revision);
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  async stats(request: Request<typeof RegistryStats>): Promise<Response<typeof RegistryStats>> {
    await this.freshLibrary();
    const response: Response<typeof RegistryStats> = { global: this.convergence(request.top ?? 10) };
    if (request.hash) response.tool = await this.freshUsage([request.hash]);
    else if (request.name) response.tool = await this.freshUsage(this.view.byName.get(request.name) ?? []);
    return response;
  }

  /** The convergence figures, all derived from durable state (so a restart resets nothing). */
  convergence(top = 10): ConvergenceStats {
    let toolsCreated = 0;
    for (const meta of this.view.versions.values()) if (meta.origin !== "imported") toolsCreated++;
    const toolsAdmitted = this.toolsAdmitted();
    let toolCalls = 0;
    let successes = 0;
    let reuseCalls = 0;
    const callsByOutcome: Record<string, number> = {};
    const byName = new Map<string, number>();
    for (const stats of this.view.stats.values()) {
      toolCalls += stats.calls;
      successes += stats.successes;
      reuseCalls += stats.reuseCalls;
      for (const [outcome, count] of Object.entries(stats.byOutcome))
        callsByOutcome[outcome] = (callsByOutcome[outcome] ?? 0) + count;
      byName.set(stats.name, (byName.get(stats.name) ?? 0) + stats.calls);
    }
    const topTools = [...byName]
      .sort((left, right) => right[1] - left[1] || (left[0] < right[0] ? -1 : 1))
      .slice(0, top)
      .map(([name, calls]) => ({ name, calls }));
    return {
      snapshot: this.view.snapshotNumber,
      librarySize: this.view.currentTools.size,
      toolsCreated,
      toolCalls,
      callsByOutcome,
      egl: toolCalls === 0 ? 0 : toolsAdmitted / toolCalls,
      toolsAdmitted,
      successRate: toolCalls === 0 ? 0 : successes / toolCalls,
      reuseRate: toolCalls === 0 ? 0 : reuseCalls / toolCalls,
      tasksSeen: this.view.tasks.size,
      topTools,
    };
  }

  /**
   * Tools admitted to the library: versions that entered some snapshot, imported ones excepted
   * (EGL's numerator, ADR 0056). A repaired or merged version that replaced the library's counts
   * once; a version built and never admitted (dropped, or offered and not merged) does not.
   */
  toolsAdmitted(): number {
    let admitted = 0;
    for (const hash of this.view.everInLibrary) {
      const meta = this.view.versions.get(hash);
      if (meta && meta.origin !== "imported") admitted++;
    }
    return admitted;
  }

  /** Records the cumulative figures as a finished task's series point (once per task). */
  private async notePoint(taskId: string): Promise<void> {
    if (this.view.series.has(taskId)) return;
    const figures = this.convergence(0);
    let successes = 0;
    let reuseCalls = 0;
    for (const stats of this.view.stats.values()) {
      successes += stats.successes;
      reuseCalls += stats.reuseCalls;
    }
    const document: SeriesDocument = {
      taskId,
      at: this.now().toISOString(),
      toolCalls: figures.toolCalls,
      successes,
      reuseCalls,
      toolsAdmitted: figures.toolsAdmitted ?? 0,
      versionsBuilt: figures.toolsCreated,
      librarySize: figures.librarySize,
    };
    try {
      const revision = await this.kv.create(Keys.series(taskId), document);
      await this.view.applyOwn(Keys.series(taskId), document, revision);
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  /** EGL over the last `window` finished tasks, and the last complete batch (for the gauges). */
  seriesFigures(
    window: number,
    batchSize: number,
  ): { windowEgl: number | null; lastBatch: SeriesBatch | undefined } {
    const documents = [...this.view.series.values()];
    const { batches } = convergenceSeries(documents, batchSize, 1);
    const complete = batches.filter((batch) => batch.toIndex - batch.fromIndex + 1 === batchSize);
    // Points are cumulative: the window is the newest point minus the one just before the window.
    const points = documents.sort((left, right) => (left.at < right.at ? -1 : left.at > right.at ? 1 : 0));
    const newest = points[points.length - 1];
    const base = points.length > window ? points[points.length - 1 - window] : undefined;
    let windowEgl: number | null = null;
    if (newest) {
      const calls = newest.toolCalls - (base?.toolCalls ?? 0);
      if (calls > 0) windowEgl = Math.max(0, newest.toolsAdmitted - (base?.toolsAdmitted ?? 0)) / calls;
    }
    return { windowEgl, lastBatch: complete[complete.length - 1] };
  }

  /** The convergence series per query index and per batch (ADR 0056). */
  async series(request: Request<typeof RegistrySeries>): Promise<Response<typeof RegistrySeries>> {
    await this.freshLibrary();
    return convergenceSeries([...this.view.series.values()], request.batchSize ?? 16, request.limit ?? 2000);
  }

  // ---------------------------------------------------------------- task end

  async finishTask(
    request: Request<typeof RegistryFinishTask>,
  ): Promise<Response<typeof RegistryFinishTask>> {
    const key = Keys.pool(request.taskId);
    const entry = await this.kv.get<PoolDocument>(key);
    const named = (hashes: string[] | undefined) =>
      (hashes ?? []).map((hash) => ({ name: this.view.versions.get(hash)?.name ?? "unknown_tool", hash }));
    if (!entry) {
      // A task that registered nothing: nothing to drop or offer, but it was seen.
      await this.noteTask(request.taskId);
      await this.notePoint(request.taskId);
      return { taskId: request.taskId, dropped: [], absorbed: [], offered: [] };
    }
    if (entry.value.state === "finished") {
      await this.notePoint(request.taskId);
      return {
        taskId: request.taskId,
        dropped: named(entry.value.dropped),
        absorbed: named(entry.value.absorbed),
        offered: named(entry.value.offered),
      };
    }

    // Decide from durable usage (not a replica's view, which may lag by a watch event).
    const pool = entry.value;
    const succeeded = new Set<string>();
    await Promise.all(
      pool.versions.map(async ({ hash }) => {
        const stats = await this.kv.get<StatsDocument>(Keys.stats(hash));
        if ((stats?.value.successes ?? 0) > 0) succeeded.add(hash);
      }),
    );
    const kept = new Map<string, string>();
    for (const { hash, name } of pool.versions) if (succeeded.has(hash)) kept.set(name, hash);
    const keptHashes = new Set(kept.values());
    const dropped = pool.versions.map((item) => item.hash).filter((hash) => !keptHashes.has(hash));

    let absorbed: string[] = [];
    let offered: string[] = [...keptHashes];
    let snapshot: SnapshotInfo | undefined;
    if ((request.mode ?? "absorb") === "absorb" && kept.size > 0) {
      const decide = async (tools: Map<string, string>): Promise<AppliedChange[]> => {
        absorbed = [];
        offered = [];
        const changes: AppliedChange[] = [];
        for (const [name, hash] of kept) {
          const library = tools.get(name);
          const meta = await this.versionMeta(hash);
          if (library === hash) absorbed.push(hash);
          else if (!library) {
            tools.set(name, hash);
            changes.push({ op: "add", name, hash });
            absorbed.push(hash);
          } else if (meta?.parents.includes(library)) {
            tools.set(name, hash);
            changes.push({ op: "replace", name, hash, previous: library });
            absorbed.push(hash);
          } else offered.push(hash);
        }
        return changes;
      };
      // Commit only when something changes; otherwise just decide against the current library.
      const probe = new Map(this.view.currentTools);
      if ((await decide(probe)).length > 0) {
        snapshot = await this.commit({
          kind: "finish-task",
          reason: `tools of task ${request.taskId} that succeeded`,
          taskId: request.taskId,
          change: decide,
        });
        if (snapshot.changeCount === 0) snapshot = undefined;
      }
    }

    const finished: PoolDocument = {
      ...pool,
      state: "finished",
      finishedAt: this.now().toISOString(),
      dropped,
      offered,
      absorbed,
    };
    try {
      const revision = await this.kv.update(key, finished, entry.revision);
      await this.view.applyOwn(key, finished, revision);
    } catch (error) {
      // A concurrent finish or a late registration: answer from whatever is there now.
      if (!isConflict(error)) throw error;
      return this.finishTask(request);
    }
    await this.notePoint(request.taskId);
    const response: Response<typeof RegistryFinishTask> = {
      taskId: request.taskId,
      dropped: named(dropped),
      absorbed: named(absorbed),
      offered: named(offered),
    };
    if (snapshot) response.snapshot = snapshot;
    return response;
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Read barrier for library reads: one KV read of `current` (≈0.2 ms) so a reply never shows an
   * older library than a snapshot already committed through another replica. Other facts (usage,
   * tasks) reach this replica through the watch within milliseconds.
   */
  private async freshLibrary(): Promise<void> {
    const entry = await this.kv.get<SnapshotDocument>(Keys.current);
    if (!entry || entry.value.info.number <= this.view.snapshotNumber) return;
    await this.view.applyOwn(Keys.current, entry.value, entry.revision);
    const missing = [...this.view.currentTools.values()].filter((hash) => !this.view.versions.has(hash));
    await Promise.all(missing.map((hash) => this.versionMeta(hash)));
  }

  /** Usage of some versions, read from the store (for one tool's stats). */
  private async freshUsage(hashes: string[]) {
    await Promise.all(
      hashes.map(async (hash) => {
        const entry = await this.kv.get<StatsDocument>(Keys.stats(hash));
        if (entry) await this.view.applyOwn(Keys.stats(hash), entry.value, entry.revision);
      }),
    );
    return this.view.usage(hashes);
  }

  /**
   * The pool version of a name, read from the store when this replica's view does not have it yet
   * (the task may have registered through another replica a moment ago).
   */
  private async freshPoolVersion(taskId: string, name: string): Promise<string | undefined> {
    const known = this.view.poolVersion(taskId, name);
    if (known) return known;
    const entry = await this.kv.get<PoolDocument>(Keys.pool(taskId));
    if (!entry) return undefined;
    await this.view.applyOwn(Keys.pool(taskId), entry.value, entry.revision);
    for (const { hash } of entry.value.versions) await this.versionMeta(hash);
    return this.view.poolVersion(taskId, name);
  }

  /** A version's metadata: from the view, else from the store (another replica just wrote it). */
  async versionMeta(hash: string) {
    const known = this.view.versions.get(hash);
    if (known) return known;
    const entry = await this.kv.get<VersionDocument>(Keys.version(hash));
    if (!entry) return undefined;
    await this.view.applyOwn(Keys.version(hash), entry.value, entry.revision);
    return this.view.versions.get(hash);
  }

  /** Reads every stored version with its code and tests (export). */
  async allRecords(): Promise<ToolVersionRecord[]> {
    const records: ToolVersionRecord[] = [];
    for (const hash of this.view.versions.keys()) {
      const record = await this.record(hash);
      if (record) records.push(record);
    }
    return records;
  }

  /** The canonical bytes a version's hash covers (for export checks). */
  static sourceJson(record: { code: string; manifest: unknown; tests: unknown }): string {
    return canonicalJson({ code: record.code, manifest: record.manifest, tests: record.tests });
  }
}

/** Text a version is embedded from: name words, description and parameter names. */
export function embeddingText(meta: {
  name: string;
  manifest: { description: string; inputSchema: Record<string, unknown> };
}): string {
  return `${meta.name.replace(/_/g, " ")}: ${meta.manifest.description} Parameters: ${parameterNames(meta.manifest.inputSchema).join(", ")}`;
}

function callKey(callId: string): string {
  return `call.${createHash("sha256").update(callId).digest("hex")}`;
}

function isConflict(error: unknown): boolean {
  return error instanceof InsituError && error.code === ErrorCode.conflict;
}

function snapshotConflict(expected: number, current: number): InsituError {
  return new InsituError(`library is at snapshot ${current}, not ${expected}; re-read and retry`, {
    code: RegistryErrorCode.snapshotConflict,
    category: ErrorCategory.user,
    retryable: true,
    details: { expected, current },
  });
}

function badRequest(message: string): InsituError {
  return new InsituError(message, { code: ErrorCode.invalidMessage, category: ErrorCategory.user });
}
