import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Bus, connectBus, redactUrl } from "@insitu/bus";
import { RegistryLibraryExport, RegistryLibraryImport, type Reply } from "@insitu/contracts";
import { ErrorCode, isInsituError } from "@insitu/errors";
import { createLogger } from "@insitu/telemetry";
import { type CliIo, ExitCode } from "../io.js";
import { readLibraryFolder, writeLibraryFolder } from "../library-folder.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { reachStack, resolveTargets } from "../targets.js";

/**
 * `insitu library export|import DIR`: the library as plain folders (module, tests, manifest,
 * lineage) for review in git and warm starts. The running registry serves and checks the files
 * (`registry.library.export|import`, one snapshot per import); this side only writes and reads the
 * folder (docs/adr/0165).
 */
export async function runLibrary(
  positionals: readonly string[],
  values: Record<string, unknown>,
  io: CliIo,
): Promise<number> {
  const [action, directory] = positionals;
  if ((action !== "export" && action !== "import") || !directory) {
    io.err("Usage: insitu library export DIR | insitu library import DIR\n");
    return ExitCode.usage;
  }
  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  const logger = createLogger({ service: "insitu-cli", level: "warn", write: (line) => io.err(`${line}\n`) });
  const bus = await reachStack(io, targets.natsUrl, () =>
    connectBus({
      url: targets.natsUrl,
      prefix: targets.prefix,
      name: "insitu-cli-library",
      logger,
    }),
  );
  if (bus === undefined) return ExitCode.unreachable;
  try {
    try {
      const target = resolve(directory);
      if (action === "export") {
        const summary = await exportLibrary(bus, target);
        if (values.json === true) io.out(`${JSON.stringify(summary, null, 2)}\n`);
        else
          io.out(
            `Exported ${summary.tools} tool(s) of library snapshot ${summary.snapshot} to ${summary.directory}\n`,
          );
      } else {
        const summary = await importLibrary(bus, target);
        if (values.json === true) io.out(`${JSON.stringify(summary, null, 2)}\n`);
        else {
          io.out(
            `Imported ${summary.tools} tool(s) (${summary.created} new)` +
              (summary.snapshot ? ` as library snapshot ${summary.snapshot.number}` : "") +
              (summary.edited.length ? `; edited since export: ${summary.edited.join(", ")}` : "") +
              "\n",
          );
        }
      }
    } catch (error) {
      if (!isInsituError(error, ErrorCode.unavailable)) throw error;
      io.err(
        `No registry answers under prefix ${targets.prefix} at ${redactUrl(targets.natsUrl)} — is the stack running? (${error.message})\n`,
      );
      return ExitCode.unreachable;
    }
    return ExitCode.ok;
  } finally {
    await bus.drain();
  }
}

/** Long enough for a large library (a request above 10 s is kept alive by the registry's beats). */
const TRANSFER_TIMEOUT_MS = 120_000;

/** The library exported by the registry on `bus`, written into `directory`. */
export async function exportLibrary(
  bus: Bus,
  directory: string,
): Promise<{ directory: string; snapshot: number; tools: number }> {
  const { snapshot, tools, files } = await bus.request(
    RegistryLibraryExport,
    {},
    { timeoutMs: TRANSFER_TIMEOUT_MS },
  );
  await writeLibraryFolder(directory, files);
  return { directory, snapshot, tools };
}

/** The folder `directory` read here and imported by the registry on `bus` as one snapshot. */
export async function importLibrary(
  bus: Bus,
  directory: string,
  options: { reason?: string; replace?: boolean; requireUnchanged?: boolean } = {},
): Promise<Reply<typeof RegistryLibraryImport>> {
  const folder = await readLibraryFolder(directory);
  return bus.request(RegistryLibraryImport, { ...folder, ...options }, { timeoutMs: TRANSFER_TIMEOUT_MS });
}

/** A whole library, exported from the stack at `from` and imported into `to` (one snapshot); `insitu demo --keep`. */
export async function copyLibrary(
  from: { url: string; prefix: string },
  to: { url: string; prefix: string },
): Promise<{ tools: number; created: number; snapshot?: number }> {
  const directory = await mkdtemp(join(tmpdir(), "insitu-demo-library-"));
  try {
    await withBus(from, (bus) => exportLibrary(bus, directory));
    const imported = await withBus(to, (bus) => importLibrary(bus, directory));
    return {
      tools: imported.tools,
      created: imported.created,
      ...(imported.snapshot ? { snapshot: imported.snapshot.number } : {}),
    };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

async function withBus<T>(
  target: { url: string; prefix: string },
  use: (bus: Bus) => Promise<T>,
): Promise<T> {
  const logger = createLogger({ service: "insitu-cli", level: "warn" });
  const bus = await connectBus({ ...target, name: "insitu-cli-demo-keep", logger });
  try {
    return await use(bus);
  } finally {
    await bus.drain();
  }
}
