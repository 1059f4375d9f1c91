import {
  RegistryErrorCode,
  type UsageStats,
  type VersionStatus,
  type VersionSummary,
} from "@insitu/contracts";
import type { KvBucket, ObjectBucket, Subscription } from "@insitu/bus";
import { ErrorCategory, InsituError, isInsituError } from "@insitu/errors";
import type { Logger } from "@insitu/telemetry";
import {
  Keys,
  type PoolDocument,
  type ReviewDocument,
  type SeriesDocument,
  type SnapshotBody,
  type SnapshotDocument,
  type StatsDocument,
  type TaskDocument,
  type VectorDocument,
  type VersionDocument,
  hashOfHex,
} from "./documents.js";
import { documentProblem, snapshotBodyProblem } from "./document-guards.js";
import { SearchIndex } from "./search-index.js";

/** A version as the view keeps it: the document without code and tests. */
export type VersionMeta = Omit<VersionDocument, "code" | "tests">;

/** Snapshot bodies hold the whole tool set: wider than a message, still bounded. */
export const BODY_LIMITS = { maxBytes: 256 * 1024 * 1024 } as const;

/** A snapshot whose body object is unreadable (corrupt, wrong shape or gone): a server-side fault. */
export function snapshotUnavailable(name: string, reason: string): InsituError {
  return new InsituError(`snapshot body ${name} is unreadable: ${reason}`, {
    code: RegistryErrorCode.snapshotUnavailable,
    category: ErrorCategory.system,
    details: { body: name, reason },
  });
}

/** While `current` points at a snapshot whose body is unreadable (docs/adr/0117). */
export interface SnapshotFallback {
  /** The current snapshot (still the number writers compare-and-set against). */
  snapshot: number;
  /** The snapshot whose tool set is served instead: the newest earlier one that reads (0: empty). */
  serving: number;
  reason: string;
}

/**
 * The registry's in-memory view of its durable state, kept current by a KV watch. Every replica
 * has one; reads (search, list, stats, history) are answered from it, writes go to KV first and
 * reach every replica's view through the watch (the writer applies its own write at once, so it
 * reads what it wrote). Entries carry KV revisions, so a late or duplicate watch event never
 * overwrites something newer.
 */
export class LibraryView {
  readonly versions = new Map<string, VersionMeta>();
  /** name → hashes in registration order (createdAt, then hash). */
  readonly byName = new Map<string, string[]>();
  readonly pools = new Map<string, PoolDocument>();
  readonly stats = new Map<string, StatsDocument>();
  readonly tasks = new Set<string>();
  /** Operator reviews by version hash (docs/adr/0130). */
  readonly reviews = new Map<string, ReviewDocument>();
  /** Convergence series points by task (ADR 0056). */
  readonly series = new Map<string, SeriesDocument>();
  readonly snapshots = new Map<number, SnapshotDocument>();
  /** Every hash that has been in some snapshot (so its absence now means `deprecated`). */
  readonly everInLibrary = new Set<string>();
  /** When a hash last entered the library (time of the latest snapshot that added it). */
  private readonly enteredLibraryAt = new Map<string, string>();
  /** When a hash was last offered (latest `finishedAt` of a finished pool that offered it). */
  private readonly lastOfferedAt = new Map<string, string>();
  current: SnapshotDocument | undefined;
  /** Set while the current snapshot's body is unreadable and an earlier tool set is served. */
  fallback: SnapshotFallback | undefined;
  currentTools = new Map<string, string>();
  /** Member name → merged name, in the current snapshot. */
  currentAliases = new Map<string, string>();
  /** Member version → the merged version that took its place (from `merge` changes). */
  readonly mergedInto = new Map<string, string>();
  readonly search: SearchIndex;

  private readonly revisions = new Map<string, number>();
  private readonly bodies = new Map<string, SnapshotBody>();
  private queue: Promise<void> = Promise.resolve();
  private subscription: Subscription | undefined;
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];
  private listeners: ((key: string) => void)[] = [];

  constructor(
    private readonly kv: KvBucket,
    private readonly blobs: ObjectBucket,
    private readonly logger: Logger,
    embeddingModel?: string,
    dimensions?: number,
  ) {
    this.search = new SearchIndex(this, embeddingModel, dimensions);
  }

  /** Watches first, then loads everything, then replays what changed meanwhile. */
  async start(): Promise<void> {
    let release!: () => void;
    const loaded = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.queue = loaded;
    this.subscription = await this.kv.watch((key, value, revision) => {
      this.enqueue(() => this.apply(key, value, revision));
    });
    const keys = await this.kv.keys();
    // Snapshots before `current`, so the current tool set sees every snapshot's changes.
    keys.sort((left, right) => rank(left) - rank(right));
    const entries = await mapConcurrent(keys, 64, (key) => this.kv.get(key));
    for (const entry of entries) {
      if (!entry) continue;
      // One change that cannot apply (say, a snapshot body that is garbage) must not stop the
      // start: it is logged and tried again when its key changes.
      await this.apply(entry.key, entry.value, entry.revision).catch((error: unknown) =>
        this.logger.error("registry view skipped an entry it could not apply", { key: entry.key, error }),
      );
    }
    release();
    await this.queue;
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }

  /** Resolves once everything queued so far is applied. */
  settled(): Promise<void> {
    return this.queue;
  }

  /** Resolves when `check` holds (checked after every applied change). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  onChange(listener: (key: string) => void): void {
    this.listeners.push(listener);
  }

  /** Applies a write this replica just made (read-your-writes), in order with watch events. */
  applyOwn(key: string, value: unknown, revision: number): Promise<void> {
    return this.enqueue(() => this.apply(key, value, revision));
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work).catch((error: unknown) => {
      this.logger.error("registry view could not apply a change", { error });
    });
    this.queue = next;
    return next;
  }

  private async apply(key: string, value: unknown, revision: number): Promise<void> {
    const known = this.revisions.get(key);
    if (known !== undefined && known >= revision) return;
    if (value === undefined) return; // deletions: the registry never deletes what it serves
    const [kind, ...rest] = key.split(".");
    const id = rest.join(".");
    const problem = documentProblem(kind, value);
    if (problem) {
      // Skipped, counted and moved aside: one bad record must not stop the view (or the start).
      await this.kv.quarantine(key, revision, problem);
      return;
    }
    switch (kind) {
      case "version":
        this.addVersion(value as VersionDocument);
        break;
      case "vector":
        this.search.setVector(hashOfHex(id), value as VectorDocument);
        break;
      case "pool":
        this.setPool(value as PoolDocument);
        break;
      case "stats":
        this.stats.set(hashOfHex(id), value as StatsDocument);
        break;
      case "task":
        this.tasks.add((value as TaskDocument).taskId);
        break;
      case "series":
        this.series.set((value as SeriesDocument).taskId, value as SeriesDocument);
        break;
      case "review":
        this.reviews.set(hashOfHex(id), value as ReviewDocument);
        // Which version of the name a pool serves may change with a decision: refresh them all.
        for (const hash of this.byName.get((value as ReviewDocument).name) ?? []) this.search.refresh(hash);
        break;
      case "snapshot":
        await this.addSnapshot(value as SnapshotDocument);
        break;
      case "current":
        await this.setCurrent(value as SnapshotDocument);
        break;
    }
    // Recorded only once applied: a change that failed (say, a body not readable yet) is applied
    // again when it is seen again (the next read barrier or watch event).
    this.revisions.set(key, revision);
    for (const listener of this.listeners) listener(key);
    for (let index = this.waiters.length - 1; index >= 0; index--) {
      const waiter = this.waiters[index];
      if (waiter?.check()) {
        this.waiters.splice(index, 1);
        waiter.resolve();
      }
    }
  }

  private addVersion(document: VersionDocument): void {
    const { code: _code, tests: _tests, ...meta } = document;
    if (this.versions.has(meta.hash)) return;
    this.versions.set(meta.hash, meta);
    const list = this.byName.get(meta.name) ?? [];
    list.push(meta.hash);
    list.sort((left, right) => {
      const a = this.versions.get(left)?.createdAt ?? "";
      const b = this.versions.get(right)?.createdAt ?? "";
      return a < b ? -1 : a > b ? 1 : left < right ? -1 : 1;
    });
    this.byName.set(meta.name, list);
    this.search.refresh(meta.hash);
  }

  private setPool(pool: PoolDocument): void {
    const previous = this.pools.get(pool.taskId);
    this.pools.set(pool.taskId, pool);
    if (pool.state === "finished") {
      for (const hash of pool.offered ?? []) {
        const at = pool.finishedAt ?? "";
        if (at >= (this.lastOfferedAt.get(hash) ?? "")) this.lastOfferedAt.set(hash, at);
      }
    }
    for (const entry of previous?.versions ?? []) this.search.refresh(entry.hash);
    for (const entry of pool.versions) this.search.refresh(entry.hash);
  }

  private async addSnapshot(document: SnapshotDocument): Promise<void> {
    if (this.snapshots.has(document.info.number)) return;
    this.snapshots.set(document.info.number, document);
    await this.noteLibraryMembers(document);
  }

  private async setCurrent(document: SnapshotDocument): Promise<void> {
    if (this.current && this.current.info.number >= document.info.number) return;
    const usable = await this.usableBody(document);
    this.snapshots.set(document.info.number, document);
    await this.noteLibraryMembers(document, usable.fallback ? undefined : usable.body);
    const previous = this.currentTools;
    this.current = document;
    this.currentTools = new Map(Object.entries(usable.body.tools));
    this.currentAliases = new Map(Object.entries(usable.body.aliases ?? {}));
    this.fallback = usable.fallback;
    if (usable.fallback) {
      this.logger.error("current snapshot's body is unreadable; serving an earlier snapshot's tool set", {
        ...usable.fallback,
      });
    }
    for (const hash of previous.values()) this.search.refresh(hash);
    for (const hash of this.currentTools.values()) this.search.refresh(hash);
  }

  private async noteLibraryMembers(document: SnapshotDocument, loaded?: SnapshotBody): Promise<void> {
    const { info } = document;
    const note = (change: SnapshotBody["changes"][number]) => {
      if (change.hash) {
        this.everInLibrary.add(change.hash);
        if (change.op !== "alias" && info.time >= (this.enteredLibraryAt.get(change.hash) ?? ""))
          this.enteredLibraryAt.set(change.hash, info.time);
      }
      if (change.op === "merge" && change.hash) {
        for (const member of change.members ?? []) this.mergedInto.set(member, change.hash);
      }
    };
    for (const change of info.changes) note(change);
    if (info.changeCount <= info.changes.length) return;
    // An unreadable body leaves only the inline changes known (the body is quarantined).
    const body = loaded ?? (await this.body(document.body).catch(unlessUnavailable));
    for (const change of body?.changes ?? []) note(change);
  }

  /**
   * A snapshot's full body (tool set and changes), cached: bodies are immutable. A body that is
   * not bounded JSON of the right shape is quarantined; it and a missing one are
   * SNAPSHOT_UNAVAILABLE.
   */
  async body(name: string): Promise<SnapshotBody> {
    const cached = this.bodies.get(name);
    if (cached) return cached;
    const value = await this.blobs.getJson(name, BODY_LIMITS);
    if (value === undefined) throw snapshotUnavailable(name, "missing from the object store, or quarantined");
    const problem = snapshotBodyProblem(value);
    if (problem) {
      await this.blobs.quarantine(name, problem);
      throw snapshotUnavailable(name, problem);
    }
    const body = value as SnapshotBody;
    if (this.bodies.size > 64) this.bodies.delete(this.bodies.keys().next().value as string);
    this.bodies.set(name, body);
    return body;
  }

  /**
   * The body of `document`, or — when it is unreadable — that of the newest earlier snapshot
   * whose body reads (the empty library when none does), with what was skipped (docs/adr/0117).
   */
  async usableBody(document: SnapshotDocument): Promise<{ body: SnapshotBody; fallback?: SnapshotFallback }> {
    let reason: string;
    try {
      return { body: await this.body(document.body) };
    } catch (error) {
      if (!isInsituError(error, RegistryErrorCode.snapshotUnavailable)) throw error;
      reason = error.message;
    }
    const earlier = [...this.snapshots.values()]
      .filter((candidate) => candidate.info.number < document.info.number)
      .sort((left, right) => right.info.number - left.info.number);
    for (const candidate of earlier) {
      const body = await this.body(candidate.body).catch(unlessUnavailable);
      if (body)
        return { body, fallback: { snapshot: document.info.number, serving: candidate.info.number, reason } };
    }
    return {
      body: { tools: {}, changes: [] },
      fallback: { snapshot: document.info.number, serving: 0, reason },
    };
  }

  get snapshotNumber(): number {
    return this.current?.info.number ?? 0;
  }

  // ---------------------------------------------------------------- derived facts

  /**
   * A version's status. A version offered again after it last left the library — a rollback took
   * it out, then a task built the same code and offered it — is `offered`, not `deprecated`:
   * otherwise an identical rebuild could never be admitted again (every later task would build it
   * once more). One merged into another stays `deprecated`. Versions are content-addressed, so the
   * offer may come from any task's pool, not only the one that first registered the hash.
   */
  status(hash: string): VersionStatus {
    // Not admitted until an operator approves; never served while waiting or once rejected.
    const review = this.reviews.get(hash)?.state;
    if (review === "pending") return "pending-review";
    if (review === "rejected") return "rejected";
    const meta = this.versions.get(hash);
    if (meta && this.currentTools.get(meta.name) === hash) return "library";
    if (this.mergedInto.has(hash)) return "deprecated";
    const offeredAt = this.lastOfferedAt.get(hash);
    const enteredAt = this.enteredLibraryAt.get(hash);
    if (offeredAt !== undefined && (enteredAt === undefined || offeredAt > enteredAt)) return "offered";
    if (this.everInLibrary.has(hash)) return "deprecated";
    const pool = meta?.createdByTask ? this.pools.get(meta.createdByTask) : undefined;
    if (pool?.state === "finished") return "dropped";
    return "task-private";
  }

  /** Whether a version is admitted as far as review goes (no review, or approved). */
  admitted(hash: string): boolean {
    const review = this.reviews.get(hash)?.state;
    return review === undefined || review === "approved";
  }

  /**
   * The version a task's pool holds for a name (its newest admitted one), if any. A version
   * waiting for review or rejected is skipped: search and get-by-name never serve it.
   */
  poolVersion(taskId: string, name: string): string | undefined {
    const pool = this.pools.get(taskId);
    if (pool?.state !== "open") return undefined;
    for (let index = pool.versions.length - 1; index >= 0; index--) {
      const entry = pool.versions[index];
      if (entry?.name === name && this.admitted(entry.hash)) return entry.hash;
    }
    return undefined;
  }

  usage(hashes: Iterable<string>): UsageStats {
    let calls = 0;
    let successes = 0;
    let reuseCalls = 0;
    let latency = 0;
    let lastCallAt: string | undefined;
    const byOutcome: Record<string, number> = {};
    const tasks = new Set<string>();
    for (const hash of hashes) {
      const stats = this.stats.get(hash);
      if (!stats) continue;
      calls += stats.calls;
      successes += stats.successes;
      reuseCalls += stats.reuseCalls;
      latency += stats.latencySumMs;
      for (const [outcome, count] of Object.entries(stats.byOutcome))
        byOutcome[outcome] = (byOutcome[outcome] ?? 0) + count;
      for (const task of stats.tasks) tasks.add(task);
      if (stats.lastCallAt && (!lastCallAt || stats.lastCallAt > lastCallAt)) lastCallAt = stats.lastCallAt;
    }
    const usage: UsageStats = {
      calls,
      byOutcome,
      successes,
      successRate: calls === 0 ? 0 : successes / calls,
      reuseCalls,
      tasks: tasks.size,
      meanLatencyMs: calls === 0 ? 0 : latency / calls,
    };
    if (lastCallAt) usage.lastCallAt = lastCallAt;
    return usage;
  }

  summary(hash: string): VersionSummary | undefined {
    const meta = this.versions.get(hash);
    if (!meta) return undefined;
    const summary: VersionSummary = {
      hash,
      name: meta.name,
      description: meta.manifest.description,
      status: this.status(hash),
      origin: meta.origin,
      parents: meta.parents,
      createdAt: meta.createdAt,
      ordinal: (this.byName.get(meta.name)?.indexOf(hash) ?? 0) + 1,
      usage: this.usage([hash]),
    };
    if (meta.createdByTask) summary.createdByTask = meta.createdByTask;
    const mergedInto = this.mergedInto.get(hash);
    if (mergedInto) summary.mergedInto = mergedInto;
    const review = this.reviews.get(hash);
    if (review) {
      const { hash: _hash, name: _name, ...rest } = review;
      summary.review = rest;
    }
    return summary;
  }
}

/** Undefined for SNAPSHOT_UNAVAILABLE (the caller falls back); anything else is rethrown. */
function unlessUnavailable(error: unknown): undefined {
  if (isInsituError(error, RegistryErrorCode.snapshotUnavailable)) return undefined;
  throw error;
}

function rank(key: string): number {
  if (key.startsWith("version.")) return 0;
  if (key.startsWith("snapshot.")) return 1;
  if (key === Keys.current) return 2;
  return 3;
}

export async function mapConcurrent<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}
