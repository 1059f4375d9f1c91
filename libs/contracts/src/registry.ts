// Contracts for the registry domain: the versioned tool library, task-private pools, library
// snapshots, retrieval, usage records and convergence stats. Served by `services/registry`.
import {
  ApprovalDecisionSchema,
  OutcomeStatusSchema,
  ToolManifestSchema,
  ToolTestsSchema,
} from "@insitu/tool-kit";
import { z } from "zod";
import { SignedTestReportSchema, SignedUsageBatchSchema } from "./attestation.js";
import { defineEndpoint } from "./define.js";
import { ContentHash, TaskId, ToolName } from "./envelope.js";
import { ToolCallOutcome } from "./task.js";

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

// ---------------------------------------------------------------- endpoints

export const RegistryRegister = defineEndpoint({
  service: "registry",
  name: "register",
  subject: "registry.register",
  version: 1,
  description:
    "Registers a tool version into a task's private pool (idempotent by content hash). The version becomes visible to that task at once (get by name with taskId, search with taskId) and to nobody else until it is absorbed into the library.",
  request: z
    .object({
      taskId: TaskId,
      manifest: ToolManifestSchema,
      code: z.string().min(1).max(MAX_REGISTRY_CODE_CHARS),
      tests: ToolTestsSchema,
      /** What admitted it (at least the passing test run). */
      evidence: z.array(EvidenceSchema).max(20),
      /**
       * The sandbox's signed report of these very tests passing against this code and manifest
       * (`sandbox.test`'s `report`, unchanged). Required: without one that verifies against a
       * trusted sandbox key the registry answers EVIDENCE_UNVERIFIED (ADR 0125). Optional in the
       * schema only so that its absence gets that typed answer.
       */
      testReport: SignedTestReportSchema.optional(),
      /** The versions it repairs or merges (content hashes). */
      parents: z.array(ContentHash).max(50).optional(),
      /** Default `created`, or `repaired` when parents are given. */
      origin: VersionOriginSchema.optional(),
    })
    .strict(),
  response: z
    .object({
      hash: ContentHash,
      name: ToolName,
      /** False when this exact version already existed (nothing was written). */
      created: z.boolean(),
      status: VersionStatusSchema,
    })
    .strict(),
});

export const RegistryAbsorb = defineEndpoint({
  service: "registry",
  name: "absorb",
  subject: "registry.absorb",
  version: 1,
  description:
    "Commits a set of library changes as ONE new snapshot, only if the library is still at `expectedSnapshot` (else SNAPSHOT_CONFLICT, retryable: re-read and retry). All changes apply or none.",
  request: z
    .object({
      expectedSnapshot: z.number().int().min(0),
      changes: z.array(LibraryChangeSchema).min(1).max(MAX_ABSORB_CHANGES),
      reason: z.string().min(1).max(2000),
      taskId: TaskId.optional(),
    })
    .strict(),
  response: SnapshotInfoSchema,
});

export const RegistryGet = defineEndpoint({
  service: "registry",
  name: "get",
  subject: "registry.get",
  version: 1,
  description:
    "One whole version (manifest, code, tests, evidence, lineage, usage): by hash; by name (the task's newest pool version when taskId is given and its pool has the name, else the library's at `snapshot`, default current); or by name and ordinal (the n-th version of that name ever registered).",
  request: z.discriminatedUnion("by", [
    z.object({ by: z.literal("hash"), hash: ContentHash }).strict(),
    z
      .object({
        by: z.literal("name"),
        name: ToolName,
        taskId: TaskId.optional(),
        snapshot: z.number().int().min(0).optional(),
      })
      .strict(),
    z.object({ by: z.literal("ordinal"), name: ToolName, ordinal: z.number().int().min(1) }).strict(),
  ]),
  response: ToolVersionRecordSchema,
});

export const RegistryList = defineEndpoint({
  service: "registry",
  name: "list",
  subject: "registry.list",
  version: 1,
  description:
    "Lists version summaries, sorted by name: the library at a snapshot (default current), or a task's pool, or every version with a status (e.g. `offered`, for the evolver's absorb).",
  request: z
    .object({
      /** What to list (default `library`). */
      scope: z.enum(["library", "pool", "status"]).optional(),
      /** For scope `library`: which snapshot (default current). */
      snapshot: z.number().int().min(0).optional(),
      /** For scope `pool`: whose pool. */
      taskId: TaskId.optional(),
      /** For scope `status`. */
      status: VersionStatusSchema.optional(),
      /** Substring filter on the name. */
      nameContains: z.string().max(64).optional(),
      /** Default 0. */
      offset: z.number().int().min(0).optional(),
      /** Default 100. */
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
  response: z
    .object({
      /** The snapshot listed (scope `library`), else the current one. */
      snapshot: z.number().int().min(0),
      total: z.number().int().min(0),
      tools: z.array(VersionSummarySchema),
    })
    .strict(),
});

export const RegistryHistory = defineEndpoint({
  service: "registry",
  name: "history",
  subject: "registry.history",
  version: 1,
  description:
    "A tool name's history: every version ever registered (with lineage, status and usage) and every snapshot that changed it.",
  request: z.object({ name: ToolName }).strict(),
  response: z
    .object({
      name: ToolName,
      /** Version in the current library, if any. */
      current: ContentHash.optional(),
      versions: z.array(VersionSummarySchema),
      events: z.array(
        z
          .object({
            snapshot: z.number().int().min(0),
            time: z.string().max(40),
            kind: SnapshotInfoSchema.shape.kind,
            change: AppliedChangeSchema,
          })
          .strict(),
      ),
    })
    .strict(),
});

export const RegistrySnapshots = defineEndpoint({
  service: "registry",
  name: "snapshots",
  subject: "registry.snapshots",
  version: 1,
  description: "The library's snapshot log, newest first (the library's history).",
  request: z
    .object({
      /** Only snapshots with a number below this (paging). */
      before: z.number().int().min(0).optional(),
      /** Default 50. */
      limit: z.number().int().min(1).max(500).optional(),
    })
    .strict(),
  response: z.object({ current: z.number().int().min(0), snapshots: z.array(SnapshotInfoSchema) }).strict(),
});

export const RegistryDiff = defineEndpoint({
  service: "registry",
  name: "diff",
  subject: "registry.diff",
  version: 1,
  description: "What differs between the tool sets of two snapshots (`to` defaults to current).",
  request: z.object({ from: z.number().int().min(0), to: z.number().int().min(0).optional() }).strict(),
  response: z
    .object({
      from: z.number().int().min(0),
      to: z.number().int().min(0),
      added: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      removed: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      changed: z.array(z.object({ name: ToolName, from: ContentHash, to: ContentHash }).strict()),
      unchanged: z.number().int().min(0),
    })
    .strict(),
});

export const RegistryRollback = defineEndpoint({
  service: "registry",
  name: "rollback",
  subject: "registry.rollback",
  version: 1,
  description:
    "Commits a NEW snapshot whose tool set equals snapshot `to` (history is never rewritten), only if the library is still at `expectedSnapshot`.",
  request: z
    .object({
      to: z.number().int().min(0),
      expectedSnapshot: z.number().int().min(0),
      reason: z.string().min(1).max(2000),
    })
    .strict(),
  response: SnapshotInfoSchema,
});

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

/** One tool call's outcome as recorded. */
export const UsageRecordSchema = z
  .object({
    /** Unique per call; recording the same call id twice counts it once (safe to retry). */
    callId: z.string().min(1).max(128),
    taskId: TaskId,
    hash: ContentHash,
    outcome: ToolCallOutcome,
    /** The sandbox's status, when the call reached the sandbox. */
    sandboxStatus: OutcomeStatusSchema.optional(),
    latencyMs: z.number().min(0),
    /** ISO-8601 time of the call (default: when recorded). */
    time: z.string().max(40).optional(),
  })
  .strict();
export type UsageRecord = z.infer<typeof UsageRecordSchema>;

export const RegistryRecordUsage = defineEndpoint({
  service: "registry",
  name: "record-usage",
  subject: "registry.record-usage",
  version: 1,
  description:
    "Records tool-call outcomes (success, input error, execution failure, timeout, denied, output error) with latency and task id; aggregates per version and per name. Idempotent per callId.",
  request: z
    .object({
      calls: z.array(UsageRecordSchema).min(1).max(200),
      /**
       * The caller's signature over `calls` (the executor's or the gateway's key). Required: an
       * unsigned or untrusted batch is refused with EVIDENCE_UNVERIFIED and nothing is recorded.
       */
      signature: SignedUsageBatchSchema.optional(),
    })
    .strict(),
  response: z
    .object({
      recorded: z.number().int().min(0),
      /** Call ids already recorded before (not counted again). */
      duplicates: z.array(z.string()),
    })
    .strict(),
});

export const ConvergenceStatsSchema = z
  .object({
    snapshot: z.number().int().min(0),
    librarySize: z.number().int().min(0),
    /** Versions built by tasks (created, repaired, merged; not imported), cumulative. */
    toolsCreated: z.number().int().min(0),
    toolCalls: z.number().int().min(0),
    callsByOutcome: z.record(z.string(), z.number().int().min(0)),
    /**
     * Evolutionary Generality Loss as the paper defines it: tools admitted to the library /
     * tool calls, cumulative (ADR 0056); 0 with no calls (the gateway reports null then, and the
     * `insitu_egl_ratio` metric is absent).
     */
    egl: z.number().min(0),
    /** Tools admitted to the library so far (versions that entered a snapshot; not imported). */
    toolsAdmitted: z.number().int().min(0).optional(),
    successRate: z.number().min(0).max(1),
    /** Calls to tools created by an earlier (other) task / all calls. */
    reuseRate: z.number().min(0).max(1),
    tasksSeen: z.number().int().min(0),
    /** Most-called tool names, most first. */
    topTools: z.array(z.object({ name: ToolName, calls: z.number().int().min(0) }).strict()),
  })
  .strict();
export type ConvergenceStats = z.infer<typeof ConvergenceStatsSchema>;

export const RegistryStats = defineEndpoint({
  service: "registry",
  name: "stats",
  subject: "registry.stats",
  version: 1,
  description:
    "Convergence figures of the whole library (EGL, reuse, success, size, tasks) and, when asked, the usage of one name or one version.",
  request: z
    .object({
      name: ToolName.optional(),
      hash: ContentHash.optional(),
      /** How many top tools to list (default 10). */
      top: z.number().int().min(0).max(100).optional(),
    })
    .strict(),
  response: z
    .object({
      global: ConvergenceStatsSchema,
      /** Usage of `name` (all its versions) or of `hash`, when asked. */
      tool: UsageStatsSchema.optional(),
    })
    .strict(),
});

export const RegistryFinishTask = defineEndpoint({
  service: "registry",
  name: "finish-task",
  subject: "registry.finish-task",
  version: 1,
  description:
    "Closes a task's pool: versions that never succeeded are dropped (kept for history, never served); for each name the newest version that succeeded is kept. With mode `absorb` (default) kept versions whose name is new to the library, or that descend from the library's version, are committed as one snapshot; the others are `offered` (for the evolver to merge). With mode `offer` all kept versions are offered. Idempotent.",
  request: z
    .object({
      taskId: TaskId,
      /** Default `absorb`. */
      mode: z.enum(["absorb", "offer"]).optional(),
    })
    .strict(),
  response: z
    .object({
      taskId: TaskId,
      dropped: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      absorbed: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      offered: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      /** The snapshot committed for the absorbed versions, when any were. */
      snapshot: SnapshotInfoSchema.optional(),
    })
    .strict(),
});

/** Maps a sandbox outcome status to the usage outcome the registry records. */
export function usageOutcomeOf(status: z.infer<typeof OutcomeStatusSchema>): ToolCallOutcome {
  switch (status) {
    case "ok":
      return "success";
    case "INVALID_INPUT":
      return "input-error";
    case "INVALID_OUTPUT":
    case "OUTPUT_LIMIT":
      return "output-error";
    case "TIMEOUT":
      return "timeout";
    case "PERMISSION_DENIED":
      return "denied";
    case "MEMORY_LIMIT":
    case "CRASH":
      return "execution-failure";
  }
}

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

/** One point of the convergence series: cumulative figures when a task finished. */
export const SeriesPointSchema = z
  .object({
    /** 1-based query index (order in which tasks finished). */
    index: z.number().int().min(1),
    taskId: TaskId,
    at: z.string(),
    toolCalls: z.number().int().min(0),
    toolsAdmitted: z.number().int().min(0),
    versionsBuilt: z.number().int().min(0),
    librarySize: z.number().int().min(0),
    /** Cumulative EGL (admitted / calls); null before the first call. */
    egl: z.number().min(0).nullable(),
    /** Cumulative success share; null before the first call. */
    successRate: z.number().min(0).max(1).nullable(),
    /** Cumulative reuse share; null before the first call. */
    reuseRate: z.number().min(0).max(1).nullable(),
  })
  .strict();
export type SeriesPoint = z.infer<typeof SeriesPointSchema>;

/** Figures of one batch of consecutive tasks. */
export const SeriesBatchSchema = z
  .object({
    /** 1-based batch number. */
    batch: z.number().int().min(1),
    /** Query indexes covered (inclusive). */
    fromIndex: z.number().int().min(1),
    toIndex: z.number().int().min(1),
    /** Calls, admissions and versions built within the batch. */
    toolCalls: z.number().int().min(0),
    toolsAdmitted: z.number().int().min(0),
    versionsBuilt: z.number().int().min(0),
    /** Library size at the batch's end. */
    librarySize: z.number().int().min(0),
    /** Cumulative EGL at the batch's end (the paper's EGL(t)); null before any call. */
    egl: z.number().min(0).nullable(),
    /** Admitted / calls within the batch (c_t / u_t); null when the batch made no call. */
    batchEgl: z.number().min(0).nullable(),
    successRate: z.number().min(0).max(1).nullable(),
    reuseRate: z.number().min(0).max(1).nullable(),
  })
  .strict();
export type SeriesBatch = z.infer<typeof SeriesBatchSchema>;

export const RegistrySeries = defineEndpoint({
  service: "registry",
  name: "series",
  subject: "registry.series",
  version: 1,
  description:
    "The convergence series: library size, EGL (tools admitted / tool calls), success and reuse per query index (one point per finished task) and per batch of consecutive tasks.",
  request: z
    .object({
      /** Tasks per batch (default 16, the paper's B). */
      batchSize: z.number().int().min(1).max(10_000).optional(),
      /** The most recent points returned (default 2000); batches always cover every point. */
      limit: z.number().int().min(1).max(5000).optional(),
    })
    .strict(),
  response: z
    .object({
      /** Points recorded in all. */
      total: z.number().int().min(0),
      points: z.array(SeriesPointSchema),
      batchSize: z.number().int().min(1),
      batches: z.array(SeriesBatchSchema),
    })
    .strict(),
});

// ---------------------------------------------------------------- operator review (docs/adr/0130)

export const RegistryReviewList = defineEndpoint({
  service: "registry",
  name: "review-list",
  subject: "registry.review.list",
  version: 1,
  description:
    "Versions the operator's approval policy sent to review: pending ones by default (oldest first), or those approved or rejected, each with its permissions and what the policy said of them.",
  request: z
    .object({
      /** Default `pending`. */
      state: z.enum(["pending", "approved", "rejected"]).optional(),
      /** Default 100. */
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
  response: z.object({ total: z.number().int().min(0), versions: z.array(VersionSummarySchema) }).strict(),
});

export const RegistryReviewDecide = defineEndpoint({
  service: "registry",
  name: "review-decide",
  subject: "registry.review.decide",
  version: 1,
  description:
    "An operator's decision on a version waiting for review: `approve` admits it (its task's pool serves it; reviewed secrets are granted to this version), `deny` rejects it. Recorded with who, when and why in the version's history. Deciding the same way twice is a no-op; reversing a decision is allowed and recorded.",
  request: z
    .object({
      hash: ContentHash,
      decision: z.enum(["approve", "deny"]),
      by: z.string().min(1).max(200),
      reason: z.string().min(1).max(2000),
    })
    .strict(),
  response: VersionSummarySchema,
});
