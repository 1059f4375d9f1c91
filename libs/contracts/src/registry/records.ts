// The registry domain's shared records: versions, their status, review and evidence, usage stats,
// library changes, snapshots and error codes. The endpoints are in the files beside this one.
import { ApprovalDecisionSchema, ToolManifestSchema, ToolTestsSchema } from "@insitu/tool-kit";
import { z } from "zod";
import { ContentHash, TaskId, ToolName } from "../envelope.js";

/**
 * Vocabulary
 * - A *version* is immutable and identified by its content hash (`sha256:` + hex over the canonical
 *   JSON of `{code, manifest, tests}`, see `computeToolHash` in `@insitu/tool-kit`). Registering
 *   the same source twice yields the same hash and is idempotent.
 * - A *pool* is the set of versions one task registered; they are visible to that task only.
 * - The *library* is a sequence of *snapshots*; snapshot N maps tool name → version hash. Every
 *   change (absorb, rollback, finish-task absorb) commits snapshot N+1 atomically with
 *   compare-and-set on the `current` pointer; snapshot 0 is the empty library.
 */

/** Largest tool module the registry accepts, in characters (same bound as the sandbox). */
export const MAX_REGISTRY_CODE_CHARS = 256 * 1024;
/** Most changes one absorb may carry. */
export const MAX_ABSORB_CHANGES = 2000;

/**
 * Where a version stands (derived, never stored on the immutable version):
 * - `task-private`: registered by a task, visible only to that task, task still open.
 * - `offered`: its task finished and it succeeded at least once; waiting for an absorb (evolver).
 * - `library`: in the current snapshot.
 * - `deprecated`: was in the library, no longer in the current snapshot (replaced, deprecated,
 *   rolled back).
 * - `dropped`: its task finished and it never succeeded; kept for history, never served.
 * - `pending-review`: the operator's approval policy sends one of its permissions to review and
 *   no decision is made yet; registered, never served or bound (docs/adr/0130).
 * - `rejected`: the policy denies one of its permissions, or an operator denied it; never served.
 */
export const VersionStatus = {
  taskPrivate: "task-private",
  offered: "offered",
  library: "library",
  deprecated: "deprecated",
  dropped: "dropped",
  pendingReview: "pending-review",
  rejected: "rejected",
} as const;
export type VersionStatus = (typeof VersionStatus)[keyof typeof VersionStatus];
export const VersionStatusSchema = z.enum([
  "task-private",
  "offered",
  "library",
  "deprecated",
  "dropped",
  "pending-review",
  "rejected",
]);

/** One permission of a version with what the approval policy said of it at registration. */
export const PermissionReviewSchema = z
  .object({
    /** `net:api.example.com`, `secret:API_KEY`, `limit:timeoutMs`. */
    permission: z.string().max(300),
    decision: ApprovalDecisionSchema,
    /** The policy rule that decided, or `default`. */
    rule: z.string().max(300),
  })
  .strict();

/** One decision on a version: an operator's (or the policy's own `deny`). */
export const ReviewDecisionSchema = z
  .object({
    decision: z.enum(["approve", "deny"]),
    /** Who decided: the operator's name as given to `insitu review`, or `policy`. */
    by: z.string().min(1).max(200),
    /** ISO-8601 time of the decision. */
    at: z.string().max(40),
    reason: z.string().min(1).max(2000),
  })
  .strict();
export type ReviewDecision = z.infer<typeof ReviewDecisionSchema>;

/**
 * A version's review (absent when the policy admitted every permission at once). Versions are
 * content-addressed, so a decision holds for the same code rebuilt by any later task.
 */
export const VersionReviewSchema = z
  .object({
    state: z.enum(["pending", "approved", "rejected"]),
    /** The task whose build asked for it first. */
    requestedByTask: TaskId.optional(),
    /** ISO-8601 time the review was opened. */
    requestedAt: z.string().max(40),
    permissions: z.array(PermissionReviewSchema).max(100),
    /** Every decision, oldest first (the last one is in force). */
    decisions: z.array(ReviewDecisionSchema).max(100),
  })
  .strict();
export type VersionReview = z.infer<typeof VersionReviewSchema>;

/** How a version came to be. */
export const VersionOriginSchema = z.enum(["created", "repaired", "merged", "imported"]);
export type VersionOrigin = z.infer<typeof VersionOriginSchema>;

/** One piece of evidence that admitted a version: a test run, real calls, a merge check. */
export const EvidenceSchema = z
  .object({
    kind: z.enum(["test-run", "calls", "merge-check", "replay", "import", "manual"]),
    /** One line a reviewer can read, e.g. "5/5 tests passed in the sandbox". */
    summary: z.string().min(1).max(2000),
    passed: z.number().int().min(0).optional(),
    failed: z.number().int().min(0).optional(),
    /** Usage call ids this evidence rests on (for `calls` / `replay`). */
    callIds: z.array(z.string().max(128)).max(100).optional(),
    /** ISO-8601 time the evidence was gathered. */
    time: z.string().max(40),
  })
  .strict();
export type Evidence = z.infer<typeof EvidenceSchema>;

/** Aggregated usage of one version or one name. */
export const UsageStatsSchema = z
  .object({
    calls: z.number().int().min(0),
    /** Calls per outcome (only outcomes seen are present). */
    byOutcome: z.record(z.string(), z.number().int().min(0)),
    successes: z.number().int().min(0),
    /** successes / calls; 0 when there were no calls. */
    successRate: z.number().min(0).max(1),
    /** Calls made by a task other than the one that created the version. */
    reuseCalls: z.number().int().min(0),
    /** Distinct tasks that called it (exact up to 1,000, then a floor). */
    tasks: z.number().int().min(0),
    meanLatencyMs: z.number().min(0),
    /** ISO-8601 time of the last call, when there was one. */
    lastCallAt: z.string().max(40).optional(),
  })
  .strict();
export type UsageStats = z.infer<typeof UsageStatsSchema>;

/**
 * A manifest as the registry serves it. It was checked with {@link ToolManifestSchema} (untrusted
 * JSON Schemas included) when it was registered; replies do not re-run those checks, which compile
 * each schema and would cost more than the search that found the tool.
 */
export const StoredManifestSchema = ToolManifestSchema.extend({
  inputSchema: z.record(z.string(), z.unknown()),
  outputSchema: z.record(z.string(), z.unknown()),
}).strict();

/** A version without its code and tests: what list and history return. */
export const VersionSummarySchema = z
  .object({
    hash: ContentHash,
    name: ToolName,
    description: z.string(),
    status: VersionStatusSchema,
    origin: VersionOriginSchema,
    /** Task that registered it (absent for imports). */
    createdByTask: TaskId.optional(),
    parents: z.array(ContentHash),
    /** ISO-8601 registration time. */
    createdAt: z.string().max(40),
    /** 1-based position among the versions of this name, in registration order. */
    ordinal: z.number().int().min(1),
    usage: UsageStatsSchema,
    /** The merged version that took this one's place (the evolver's `merge`), when one did. */
    mergedInto: ContentHash.optional(),
    /** Its operator review, when the approval policy asked for one (docs/adr/0130). */
    review: VersionReviewSchema.optional(),
  })
  .strict();
export type VersionSummary = z.infer<typeof VersionSummarySchema>;

/** A whole version: summary plus manifest, code, tests and evidence. */
export const ToolVersionRecordSchema = VersionSummarySchema.extend({
  manifest: StoredManifestSchema,
  code: z.string().max(MAX_REGISTRY_CODE_CHARS),
  tests: ToolTestsSchema,
  evidence: z.array(EvidenceSchema),
  /** Embedding model whose vector is stored with this version, when one is. */
  embeddingModel: z.string().optional(),
}).strict();
export type ToolVersionRecord = z.infer<typeof ToolVersionRecordSchema>;

/** A change to the library inside one absorb. */
export const LibraryChangeSchema = z.discriminatedUnion("op", [
  /** Adds a version under a name the library does not have yet. */
  z.object({ op: z.literal("add"), hash: ContentHash }).strict(),
  /**
   * Puts a version in place of the library's version of the same name (a repair or a merge).
   * `expected` guards against replacing something other than what the caller reviewed.
   */
  z.object({ op: z.literal("replace"), hash: ContentHash, expected: ContentHash.optional() }).strict(),
  /** Removes a name from the library; its versions become `deprecated`. */
  z.object({ op: z.literal("deprecate"), name: ToolName, reason: z.string().max(2000).optional() }).strict(),
  /**
   * Puts a merged version (its `parents` are the members) in the library under its own name and
   * makes every member name that differs an alias of it: the member names leave the tool set and
   * `get` by such a name answers the merged version, so saved plans and callers keep working.
   */
  z
    .object({
      op: z.literal("merge"),
      hash: ContentHash,
      members: z.array(ContentHash).min(1).max(50),
      reason: z.string().max(2000).optional(),
    })
    .strict(),
]);
export type LibraryChange = z.infer<typeof LibraryChangeSchema>;

/** What one snapshot changed, as recorded (resolved names and previous hashes). */
export const AppliedChangeSchema = z
  .object({
    op: z.enum(["add", "replace", "deprecate", "restore", "merge", "alias"]),
    name: ToolName,
    /** New version (absent for deprecate). */
    hash: ContentHash.optional(),
    /** Version it displaced (absent for add). */
    previous: ContentHash.optional(),
    reason: z.string().max(2000).optional(),
    /** For `merge`: the member versions merged into `hash`. */
    members: z.array(ContentHash).max(50).optional(),
    /** For `alias`: the name `name` now resolves to. */
    target: ToolName.optional(),
  })
  .strict();
export type AppliedChange = z.infer<typeof AppliedChangeSchema>;

/** One library snapshot's record (not its full tool set). */
export const SnapshotInfoSchema = z
  .object({
    /** 0 is the empty library; each commit adds one. */
    number: z.number().int().min(0),
    /** ISO-8601 commit time. */
    time: z.string().max(40),
    kind: z.enum(["genesis", "absorb", "rollback", "finish-task", "import"]),
    reason: z.string().max(2000),
    /** Task on whose behalf it was committed, when one. */
    taskId: TaskId.optional(),
    /** For a rollback: the snapshot whose tool set this one restores. */
    rollbackTo: z.number().int().min(0).optional(),
    /** Number of tools in the library at this snapshot. */
    size: z.number().int().min(0),
    /** Changes relative to the previous snapshot (first 200; `changeCount` has the total). */
    changes: z.array(AppliedChangeSchema).max(200),
    changeCount: z.number().int().min(0),
  })
  .strict();
export type SnapshotInfo = z.infer<typeof SnapshotInfoSchema>;

/** Typed error codes the registry answers with (in `InsituError.code`). */
export const RegistryErrorCode = {
  /** `expectedSnapshot` is not the current snapshot; details.current has the current number. */
  snapshotConflict: "SNAPSHOT_CONFLICT",
  /** A change does not apply (add of an existing name, replace of a missing one, …). */
  invalidChange: "INVALID_LIBRARY_CHANGE",
  /** The version's source does not hash to what the caller said, or fails its manifest. */
  invalidVersion: "INVALID_TOOL_VERSION",
  /** The task's pool is finished; it takes no more versions. */
  poolFinished: "POOL_FINISHED",
  notFound: "NOT_FOUND",
  /**
   * The version exists but its code and tests (an Object Store body) are unreadable: corrupt or
   * missing, quarantined. A server-side fault (5xx); the version cannot be run or repaired.
   */
  versionUnavailable: "TOOL_VERSION_UNAVAILABLE",
  /** A past snapshot's tool set (its body object) is unreadable: corrupt or missing, quarantined. */
  snapshotUnavailable: "SNAPSHOT_UNAVAILABLE",
  /** A review decision on a version that has no review, or one already decided the other way. */
  reviewConflict: "REVIEW_CONFLICT",
  /**
   * Test evidence or usage outcomes that do not verify (ADR 0125): `details.problem` is one of
   * missing | unknown-key | bad-signature | other-code | other-tests | not-passed | other-calls.
   */
  evidenceUnverified: "EVIDENCE_UNVERIFIED",
} as const;
