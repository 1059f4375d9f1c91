// Registering a tool version and reading versions (get, list, history).
// Part of the registry domain's contracts (see ./records.ts); served by `services/registry`.
import { ToolManifestSchema, ToolTestsSchema } from "@insitu/tool-kit";
import { z } from "zod";
import { SignedTestReportSchema } from "../attestation.js";
import { defineEndpoint } from "../define.js";
import { ContentHash, TaskId, ToolName } from "../envelope.js";
import {
  MAX_REGISTRY_CODE_CHARS,
  VersionStatusSchema,
  VersionOriginSchema,
  EvidenceSchema,
  VersionSummarySchema,
  ToolVersionRecordSchema,
  AppliedChangeSchema,
  SnapshotInfoSchema,
} from "./records.js";

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
