// Library snapshots: absorb, the snapshot list, diff and rollback.
// Part of the registry domain's contracts (see ./records.ts); served by `services/registry`.
import { z } from "zod";
import { defineEndpoint } from "../define.js";
import { ContentHash, TaskId, ToolName } from "../envelope.js";
import { MAX_ABSORB_CHANGES, LibraryChangeSchema, SnapshotInfoSchema } from "./records.js";

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
