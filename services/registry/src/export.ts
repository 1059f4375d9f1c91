import { mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AppliedChange, Evidence, SnapshotInfo } from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { ToolManifestSchema, ToolNameSchema, ToolTestsSchema, computeToolHash } from "@insitu/tool-kit";
import { z } from "zod";
import type { VersionDocument } from "./documents.js";
import type { Registry } from "./registry.js";

/**
 * The library as plain files, for review in git and for warm starts:
 *
 * ```
 * <dir>/library.json            snapshot number, export time, name → hash
 * <dir>/<tool_name>/module.ts   the tool's code, exactly as hashed
 * <dir>/<tool_name>/tests.json  its test cases
 * <dir>/<tool_name>/manifest.json
 * <dir>/<tool_name>/lineage.json  hash, origin, creating task, parents, evidence, usage, and the
 *                                 tool's earlier versions (hash, parents, time, status)
 * ```
 *
 * Import registers every folder as a version (`imported`, keeping recorded parents) and commits
 * them as ONE snapshot. A folder whose files were edited no longer hashes to `lineage.hash`: it is
 * imported as a new version whose parent is the recorded one, so review edits keep their lineage.
 */
export const LIBRARY_FILE = "library.json";

const LibraryFileSchema = z.object({
  format: z.literal(1),
  snapshot: z.number().int().min(0),
  exportedAt: z.string(),
  tools: z.record(z.string(), z.string()),
});

const LineageSchema = z.object({
  hash: z.string(),
  name: z.string(),
  origin: z.string(),
  createdByTask: z.string().optional(),
  parents: z.array(z.string()).default([]),
  createdAt: z.string(),
  evidence: z.array(z.unknown()).default([]),
});

export interface ExportSummary {
  directory: string;
  snapshot: number;
  tools: number;
}

export interface ImportSummary {
  tools: number;
  /** Versions that were new to this registry. */
  created: number;
  /** Folders whose files no longer matched their recorded hash (edited after export). */
  edited: string[];
  snapshot?: SnapshotInfo;
}

export async function exportLibrary(registry: Registry, directory: string): Promise<ExportSummary> {
  await registry.view.settled();
  const view = registry.view;
  const tools = new Map(view.currentTools);
  await mkdir(directory, { recursive: true });
  // Folders of tools no longer in the library must not linger in a git-tracked export.
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (entry.isDirectory() && ToolNameSchema.safeParse(entry.name).success && !tools.has(entry.name)) {
      await rm(join(directory, entry.name), { recursive: true, force: true });
    }
  }
  const sorted = [...tools].sort(([left], [right]) => (left < right ? -1 : 1));
  for (const [name, hash] of sorted) {
    const record = await registry.record(hash);
    if (!record) throw new InsituError(`version ${hash} of ${name} is missing`, { code: "EXPORT_FAILED" });
    const folder = join(directory, name);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "module.ts"), record.code);
    await writeFile(join(folder, "tests.json"), `${JSON.stringify(record.tests, null, 2)}\n`);
    await writeFile(join(folder, "manifest.json"), `${JSON.stringify(record.manifest, null, 2)}\n`);
    const history = (view.byName.get(name) ?? []).map((versionHash) => {
      const summary = view.summary(versionHash);
      return {
        hash: versionHash,
        parents: summary?.parents ?? [],
        origin: summary?.origin,
        createdAt: summary?.createdAt,
        status: summary?.status,
      };
    });
    const lineage = {
      hash,
      name,
      origin: record.origin,
      ...(record.createdByTask ? { createdByTask: record.createdByTask } : {}),
      parents: record.parents,
      createdAt: record.createdAt,
      evidence: record.evidence,
      usage: record.usage,
      history,
    };
    await writeFile(join(folder, "lineage.json"), `${JSON.stringify(lineage, null, 2)}\n`);
  }
  const library = {
    format: 1,
    snapshot: view.snapshotNumber,
    exportedAt: new Date().toISOString(),
    tools: Object.fromEntries(sorted),
  };
  await writeFile(join(directory, LIBRARY_FILE), `${JSON.stringify(library, null, 2)}\n`);
  return { directory, snapshot: view.snapshotNumber, tools: sorted.length };
}

export interface ImportOptions {
  reason?: string;
  /**
   * The folder becomes the whole library in that one snapshot: tools it does not hold leave
   * (deprecated) and merged names' aliases are dropped, as after a rollback to the empty library.
   * A batch's warm start from a folder; without it an import adds to the library.
   */
  replace?: boolean;
  /**
   * Refuse a folder whose files no longer hash to their recorded version (edited after export)
   * instead of importing the edit as a new version: a warm start takes a library exactly as it
   * was exported, and an edit has never run its tests here.
   */
  requireUnchanged?: boolean;
}

/** A library folder read and checked, nothing stored yet (so a bad folder changes nothing). */
export interface LibraryFolder {
  directory: string;
  /** Snapshot of the library the folder was exported from. */
  sourceSnapshot: number;
  documents: VersionDocument[];
  edited: string[];
}

export async function readLibraryFolder(
  directory: string,
  options: Pick<ImportOptions, "requireUnchanged"> = {},
): Promise<LibraryFolder> {
  const invalid = (folder: string, what: string, cause?: unknown) =>
    new InsituError(`${folder}: ${what}`, {
      code: "INVALID_EXPORT",
      category: ErrorCategory.user,
      details: { folder },
      ...(cause === undefined ? {} : { cause }),
    });
  const readJson = async (folder: string, file: string): Promise<unknown> => {
    let text: string;
    try {
      text = await readFile(join(folder, file), "utf8");
    } catch (error) {
      throw invalid(
        folder,
        `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
        error,
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw invalid(folder, `${file} is not JSON: ${(error as Error).message}`, error);
    }
  };
  const folderStat = await stat(directory).catch(() => undefined);
  if (!folderStat?.isDirectory()) {
    throw invalid(directory, "no such folder (an exported library is a folder holding library.json)");
  }
  const libraryFile = LibraryFileSchema.safeParse(await readJson(directory, LIBRARY_FILE));
  if (!libraryFile.success)
    throw invalid(directory, `${LIBRARY_FILE} is invalid: ${libraryFile.error.message}`);
  const library = libraryFile.data;
  const documents: VersionDocument[] = [];
  const edited: string[] = [];
  for (const name of Object.keys(library.tools).sort()) {
    const folder = join(directory, name);
    const manifest = ToolManifestSchema.safeParse(await readJson(folder, "manifest.json"));
    if (!manifest.success) throw invalid(folder, `manifest.json is invalid: ${manifest.error.message}`);
    const tests = ToolTestsSchema.safeParse(await readJson(folder, "tests.json"));
    if (!tests.success) throw invalid(folder, `tests.json is invalid: ${tests.error.message}`);
    const lineage = LineageSchema.safeParse(await readJson(folder, "lineage.json"));
    if (!lineage.success) throw invalid(folder, `lineage.json is invalid: ${lineage.error.message}`);
    if (manifest.data.name !== name)
      throw invalid(folder, `manifest names ${manifest.data.name}, folder ${name}`);
    const code = await readFile(join(folder, "module.ts"), "utf8").catch((error: unknown) => {
      throw invalid(folder, "module.ts cannot be read", error);
    });
    const hash = computeToolHash({ manifest: manifest.data, code, tests: tests.data });
    const unchanged = hash === lineage.data.hash;
    if (!unchanged && options.requireUnchanged) {
      throw invalid(
        folder,
        `${name}: module.ts, tests.json and manifest.json no longer hash to the recorded version ${lineage.data.hash} (edited after export, so never tested here); import edits with \`insitu library import\` and start from \`current\``,
      );
    }
    if (!unchanged) edited.push(name);
    const evidence: Evidence[] = [
      ...(unchanged ? (lineage.data.evidence as Evidence[]) : []),
      {
        kind: "import",
        summary: unchanged
          ? `imported from ${directory} (snapshot ${library.snapshot} of its source)`
          : `imported from ${directory} with edits to ${lineage.data.hash}`,
        time: new Date().toISOString(),
      },
    ];
    const document: VersionDocument = {
      hash,
      name,
      manifest: manifest.data,
      // A version brought in from elsewhere was not created here: it must not count toward EGL.
      origin: "imported",
      parents: unchanged ? lineage.data.parents : [lineage.data.hash],
      createdAt: unchanged ? lineage.data.createdAt : new Date().toISOString(),
      evidence,
      code,
      tests: tests.data,
    };
    if (unchanged && lineage.data.createdByTask) document.createdByTask = lineage.data.createdByTask;
    documents.push(document);
  }
  return { directory, sourceSnapshot: library.snapshot, documents, edited };
}

export async function importLibrary(
  registry: Registry,
  directory: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  // Every file is read and checked before anything is stored or committed.
  const { documents, edited } = await readLibraryFolder(directory, options);
  let created = 0;
  for (const document of documents) if (await registry.storeVersion(document)) created++;
  const summary: ImportSummary = { tools: documents.length, created, edited };
  if (documents.length === 0 && !options.replace) return summary;
  const snapshot = await registry.commit({
    kind: "import",
    reason: options.reason ?? `import of ${directory}`,
    change: async (tools, aliases) => {
      const changes: AppliedChange[] = [];
      if (options.replace) {
        const keep = new Set(documents.map((document) => document.name));
        for (const [name, hash] of [...tools]) {
          if (keep.has(name)) continue;
          tools.delete(name);
          changes.push({
            op: "deprecate",
            name,
            previous: hash,
            reason: options.reason ?? "replaced by an import",
          });
        }
        aliases.clear();
      }
      for (const { name, hash } of documents) {
        const previous = tools.get(name);
        if (previous === hash) continue;
        tools.set(name, hash);
        changes.push(previous ? { op: "replace", name, hash, previous } : { op: "add", name, hash });
      }
      return changes;
    },
  });
  if (snapshot.changeCount > 0) summary.snapshot = snapshot;
  return summary;
}
