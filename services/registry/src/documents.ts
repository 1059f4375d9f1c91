import type { AppliedChange, Evidence, SnapshotInfo, VersionOrigin, VersionReview } from "@insitu/contracts";
import type { ToolManifest, ToolTestCase } from "@insitu/tool-kit";

/**
 * What the registry keeps in JetStream. One KV bucket (`registry`) holds small records; the Object
 * Store bucket (`registry-blobs`) holds what can be large (snapshot tool sets, big code/tests).
 *
 * | key                | value            | written                                   |
 * |--------------------|------------------|-------------------------------------------|
 * | `version.<hex>`    | VersionDocument  | once (`create`), immutable                |
 * | `vector.<hex>`     | VectorDocument   | when embedded (re-embedded on model change) |
 * | `pool.<taskId>`    | PoolDocument     | compare-and-set                           |
 * | `current`          | SnapshotDocument | compare-and-set: the commit point         |
 * | `snapshot.<n>`     | SnapshotDocument | archive of every committed snapshot       |
 * | `stats.<hex>`      | StatsDocument    | compare-and-set, one per version          |
 * | `task.<taskId>`    | TaskDocument     | once (`create`): tasks seen               |
 * | `series.<taskId>`  | SeriesDocument   | once (`create`), when the task finishes   |
 * | `review.<hex>`     | ReviewDocument   | `create` when the policy asks; decisions compare-and-set |
 *
 * Raw call records go to a second bucket (`registry-calls`, key = sha256 of the call id).
 */
export const Keys = {
  current: "current",
  version: (hash: string) => `version.${hexOf(hash)}`,
  vector: (hash: string) => `vector.${hexOf(hash)}`,
  pool: (taskId: string) => `pool.${taskId}`,
  snapshot: (number: number) => `snapshot.${number}`,
  stats: (hash: string) => `stats.${hexOf(hash)}`,
  task: (taskId: string) => `task.${taskId}`,
  series: (taskId: string) => `series.${taskId}`,
  review: (hash: string) => `review.${hexOf(hash)}`,
} as const;

export const Buckets = {
  registry: "registry",
  calls: "registry-calls",
  blobs: "registry-blobs",
} as const;

export function hexOf(hash: string): string {
  return hash.startsWith("sha256:") ? hash.slice(7) : hash;
}
export function hashOfHex(hex: string): string {
  return `sha256:${hex}`;
}

export interface VersionDocument {
  hash: string;
  name: string;
  manifest: ToolManifest;
  origin: VersionOrigin;
  createdByTask?: string;
  parents: string[];
  createdAt: string;
  evidence: Evidence[];
  /** Inline when small; otherwise `body` names an object holding `{code, tests}`. */
  code?: string;
  tests?: ToolTestCase[];
  body?: string;
}

export interface VectorDocument {
  model: string;
  vector: number[];
}

export interface PoolDocument {
  taskId: string;
  state: "open" | "finished";
  /** In registration order. */
  versions: { hash: string; name: string; at: string }[];
  finishedAt?: string;
  /** Set when finished. */
  dropped?: string[];
  offered?: string[];
  absorbed?: string[];
}

export interface SnapshotDocument {
  info: SnapshotInfo;
  /** Object holding {@link SnapshotBody}. */
  body: string;
}

export interface SnapshotBody {
  tools: Record<string, string>;
  changes: AppliedChange[];
  /** Names that resolve to another tool's name (members of a merge → the merged tool). */
  aliases?: Record<string, string>;
}

export interface StatsDocument {
  hash: string;
  name: string;
  calls: number;
  byOutcome: Record<string, number>;
  successes: number;
  reuseCalls: number;
  latencySumMs: number;
  lastCallAt?: string;
  /** Distinct calling tasks, up to {@link MAX_TRACKED_TASKS}. */
  tasks: string[];
  /** The last call ids counted, so a retried record is not counted twice. */
  recentCallIds: string[];
}

export const MAX_TRACKED_TASKS = 1000;
export const RECENT_CALL_IDS = 512;

export interface TaskDocument {
  taskId: string;
  firstSeen: string;
}

/**
 * One point of the convergence series (ADR 0056): the library-wide cumulative figures as the
 * registry saw them when a task finished. Ordered by `at`, the points are the per-query-index
 * series; consecutive runs of B points are the per-batch series.
 */
export interface SeriesDocument {
  taskId: string;
  at: string;
  toolCalls: number;
  successes: number;
  reuseCalls: number;
  /** Tools admitted to the library so far (not imported). */
  toolsAdmitted: number;
  /** Tool versions built so far (created, repaired, merged; not imported). */
  versionsBuilt: number;
  librarySize: number;
}

/** A version's operator review (docs/adr/0130); one per content hash. */
export interface ReviewDocument extends VersionReview {
  hash: string;
  name: string;
}
