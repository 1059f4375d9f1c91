import { mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { LIBRARY_TOOL_FILES, type Payload, type RegistryLibraryImport, ToolName } from "@insitu/contracts";

/**
 * The CLI's side of an exported library folder: the registry serves and checks the files
 * (`registry.library.export|import`, docs/adr/0165); here they are only written to and read from
 * this machine's disk. The format is services/registry/src/export.ts's.
 */
const LIBRARY_FILE = "library.json";

/** Writes an export's files into `directory`; folders of tools no longer in the library are removed. */
export async function writeLibraryFolder(directory: string, files: Record<string, string>): Promise<void> {
  await mkdir(directory, { recursive: true });
  const tools = new Set(Object.keys(files).map((path) => path.split("/")[0]));
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (entry.isDirectory() && ToolName.safeParse(entry.name).success && !tools.has(entry.name)) {
      await rm(join(directory, entry.name), { recursive: true, force: true });
    }
  }
  // library.json last: a folder holding it is a complete export.
  const paths = Object.keys(files).sort((a, b) => Number(a === LIBRARY_FILE) - Number(b === LIBRARY_FILE));
  for (const path of paths) {
    await mkdir(dirname(join(directory, path)), { recursive: true });
    await writeFile(join(directory, path), files[path] ?? "");
  }
}

type FolderRead = Pick<
  Payload<typeof RegistryLibraryImport>,
  "directory" | "folder" | "files" | "unreadable"
>;

/**
 * Reads what an import needs: library.json and the four files of each tool it lists. Nothing is
 * checked here beyond what reading needs; the registry checks it all before storing anything, and
 * names a file that could not be read by its errno code.
 */
export async function readLibraryFolder(directory: string): Promise<FolderRead> {
  const files: Record<string, string> = {};
  const unreadable: Record<string, string> = {};
  const read = async (path: string) => {
    try {
      files[path] = await readFile(join(directory, path), "utf8");
    } catch (error) {
      unreadable[path] = (error as NodeJS.ErrnoException).code ?? "error";
    }
  };
  const folder = (await stat(directory).catch(() => undefined))?.isDirectory() === true;
  if (folder) {
    await read(LIBRARY_FILE);
    for (const name of listedTools(files[LIBRARY_FILE])) {
      for (const file of LIBRARY_TOOL_FILES) await read(`${name}/${file}`);
    }
  }
  return { directory, folder, files, ...(Object.keys(unreadable).length ? { unreadable } : {}) };
}

/** The tool names library.json lists (none when it does not parse; the registry says why). */
function listedTools(text: string | undefined): string[] {
  try {
    const tools = (JSON.parse(text ?? "") as { tools?: unknown }).tools;
    if (!tools || typeof tools !== "object") return [];
    // Only names that cannot leave the folder; the registry refuses any other.
    return Object.keys(tools).filter((name) => /^[a-z][a-z0-9_]*$/.test(name));
  } catch {
    return [];
  }
}
