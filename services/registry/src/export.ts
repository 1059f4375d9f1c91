import { mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type {
  AppliedChange,
  Evidence,
  Payload,
  RegistryLibraryImport,
  SnapshotInfo,
} from "@insitu/contracts";
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

/** The current library as the files of an exported folder, by path inside it (nothing written). */
export async function exportLibraryFiles(
  registry: Registry,
): Promise<{ snapshot: number; tools: number; files: Record<string, string> }> {
  await registry.view.settled();
  const view = registry.view;
  const sorted = [...view.currentTools].sort(([left], [right]) => (left < right ? -1 : 1));
  const files: Record<string, string> = {};
  for (const [name, hash] of sorted) {
    const record = await registry.record(hash);
    if (!record) throw new InsituError(`version ${hash} of ${name} is missing`, { code: "EXPORT_FAILED" });
    files[`${name}/module.ts`] = record.code;
    files[`${name}/tests.json`] = `${JSON.stringify(record.tests, null, 2)}\n`;
    files[`${name}/manifest.json`] = `${JSON.stringify(record.manifest, null, 2)}\n`;
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
    files[`${name}/lineage.json`] = `${JSON.stringify(lineage, null, 2)}\n`;
  }
  const library = {
    format: 1,
    snapshot: view.snapshotNumber,
    exportedAt: new Date().toISOString(),
    tools: Object.fromEntries(sorted),
  };
  files[LIBRARY_FILE] = `${JSON.stringify(library, null, 2)}\n`;
  return { snapshot: view.snapshotNumber, tools: sorted.length, files };
}

/**
 * Writes an exported library's files into `directory`. Folders of tools no longer in the library
 * are removed so they do not linger in a git-tracked export. (apps/cli writes the same way; it may
 * not import this service.)
 */
export async function writeLibraryFolder(directory: string, files: Record<string, string>): Promise<void> {
  await mkdir(directory, { recursive: true });
  const tools = new Set(Object.keys(files).map((path) => path.split("/")[0]));
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (entry.isDirectory() && ToolNameSchema.safeParse(entry.name).success && !tools.has(entry.name)) {
      await rm(join(directory, entry.name), { recursive: true, force: true });
    }
  }
  // library.json last, as before: a folder holding it is a complete export.
  const paths = Object.keys(files).sort((a, b) => Number(a === LIBRARY_FILE) - Number(b === LIBRARY_FILE));
  for (const path of paths) {
    await mkdir(dirname(join(directory, path)), { recursive: true });
    await writeFile(join(directory, path), files[path] ?? "");
  }
}

export async function exportLibrary(registry: Registry, directory: string): Promise<ExportSummary> {
  const { snapshot, tools, files } = await exportLibraryFiles(registry);
  await writeLibraryFolder(directory, files);
  return { directory, snapshot, tools };
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

/** Where an import reads a library folder from: the disk here, or files a caller read and sent. */
export interface LibrarySource {
  /** The folder as its owner names it (messages, import evidence). */
  directory: string;
  isFolder(): Promise<boolean>;
  /** A file by path inside the folder; throws an error with the errno `code` when unreadable. */
  read(path: string): Promise<string>;
}

/** A library folder on this machine's disk. */
export function folderSource(directory: string): LibrarySource {
  return {
    directory,
    isFolder: async () => (await stat(directory).catch(() => undefined))?.isDirectory() === true,
    read: (path) => readFile(join(directory, path), "utf8"),
  };
}

/** A library folder another process read and sent (`registry.library.import`). */
export function sentSource(request: Payload<typeof RegistryLibraryImport>): LibrarySource {
  return {
    directory: request.directory,
    isFolder: async () => request.folder,
    read: async (path) => {
      const text = request.files[path];
      if (text !== undefined) return text;
      throw Object.assign(new Error(`${path} cannot be read`), {
        code: request.unreadable?.[path] ?? "ENOENT",
      });
    },
  };
}

export async function readLibraryFolder(
  from: string | LibrarySource,
  options: Pick<ImportOptions, "requireUnchanged"> = {},
): Promise<LibraryFolder> {
  const source = typeof from === "string" ? folderSource(from) : from;
  const directory = source.directory;
  const invalid = (folder: string, what: string, cause?: unknown) =>
    new InsituError(`${folder}: ${what}`, {
      code: "INVALID_EXPORT",
      category: ErrorCategory.user,
      details: { folder },
      ...(cause === undefined ? {} : { cause }),
    });
  /** `file` of the tool `name` ("" for the library's own file), named in errors by `folder`. */
  const readJson = async (folder: string, name: string, file: string): Promise<unknown> => {
    let text: string;
    try {
      text = await source.read(name ? `${name}/${file}` : file);
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
  if (!(await source.isFolder())) {
    throw invalid(directory, "no such folder (an exported library is a folder holding library.json)");
  }
  const libraryFile = LibraryFileSchema.safeParse(await readJson(directory, "", LIBRARY_FILE));
  if (!libraryFile.success)
    throw invalid(directory, `${LIBRARY_FILE} is invalid: ${libraryFile.error.message}`);
  const library = libraryFile.data;
  const documents: VersionDocument[] = [];
  const edited: string[] = [];
  for (const name of Object.keys(library.tools).sort()) {
    const folder = join(directory, name);
    const manifest = ToolManifestSchema.safeParse(await readJson(folder, name, "manifest.json"));
    if (!manifest.success) throw invalid(folder, `manifest.json is invalid: ${manifest.error.message}`);
    const tests = ToolTestsSchema.safeParse(await readJson(folder, name, "tests.json"));
    if (!tests.success) throw invalid(folder, `tests.json is invalid: ${tests.error.message}`);
    const lineage = LineageSchema.safeParse(await readJson(folder, name, "lineage.json"));
    if (!lineage.success) throw invalid(folder, `lineage.json is invalid: ${lineage.error.message}`);
    if (manifest.data.name !== name)
      throw invalid(folder, `manifest names ${manifest.data.name}, folder ${name}`);
    const code = await source.read(`${name}/module.ts`).catch((error: unknown) => {
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
  from: string | LibrarySource,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  // Every file is read and checked before anything is stored or committed.
  const { directory, documents, edited } = await readLibraryFolder(from, options);
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
