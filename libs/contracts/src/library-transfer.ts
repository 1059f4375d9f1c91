// Contracts for moving the whole library in and out as plain files (`insitu library export|import`,
// a batch's warm start from a folder). Served by `services/registry`, which alone writes its buckets:
// the caller only reads and writes the folder on its own disk (docs/adr/0165).
import { z } from "zod";
import { defineEndpoint } from "./define.js";
import { SnapshotInfoSchema } from "./registry.js";

/**
 * An exported library's files by path inside its folder: `library.json`, and for each tool
 * `<name>/module.ts`, `<name>/tests.json`, `<name>/manifest.json`, `<name>/lineage.json`
 * (format in services/registry/src/export.ts).
 */
export const LIBRARY_TOOL_FILES = ["module.ts", "tests.json", "manifest.json", "lineage.json"] as const;
export const LibraryFilePath = z
  .string()
  .max(200)
  .regex(/^(library\.json|[a-z][a-z0-9_]*\/(module\.ts|tests\.json|manifest\.json|lineage\.json))$/);

export const RegistryLibraryExport = defineEndpoint({
  service: "registry",
  name: "library-export",
  subject: "registry.library.export",
  version: 1,
  description:
    "The current library as the files of an exported library folder (library.json and four files per tool), for the caller to write; nothing is stored.",
  request: z.object({}).strict(),
  response: z
    .object({
      snapshot: z.number().int().min(0),
      tools: z.number().int().min(0),
      files: z.record(LibraryFilePath, z.string()),
    })
    .strict(),
});

export const RegistryLibraryImport = defineEndpoint({
  service: "registry",
  name: "library-import",
  subject: "registry.library.import",
  version: 1,
  description:
    "Imports a library folder the caller read: every file is checked before anything is stored, then its tools become ONE snapshot (edited tools become new versions whose parent is the recorded one).",
  request: z
    .object({
      /** The folder as the caller names it (in messages and each version's import evidence). */
      directory: z.string().min(1).max(4096),
      /** False when the caller found no folder there. */
      folder: z.boolean(),
      /** The files the caller could read, by path inside the folder. */
      files: z.record(z.string().max(200), z.string()),
      /** Files it could not read, with the errno code (`ENOENT`, `EACCES`, …). */
      unreadable: z.record(z.string().max(200), z.string().max(40)).optional(),
      reason: z.string().min(1).max(2000).optional(),
      /** The folder becomes the whole library (a batch's warm start). */
      replace: z.boolean().optional(),
      /** Refuse a tool whose files no longer hash to their recorded version. */
      requireUnchanged: z.boolean().optional(),
    })
    .strict(),
  response: z
    .object({
      tools: z.number().int().min(0),
      created: z.number().int().min(0),
      edited: z.array(z.string()),
      snapshot: SnapshotInfoSchema.optional(),
    })
    .strict(),
});
