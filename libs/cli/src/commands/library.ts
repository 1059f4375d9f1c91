import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connectBus, redactUrl } from "@insitu/bus";
import { exportLibrary, importLibrary, Registry } from "@insitu/registry";
import { createLogger } from "@insitu/telemetry";
import { type CliIo, ExitCode } from "../io.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { resolveTargets } from "../targets.js";

/**
 * `insitu library export|import DIR`: the library as plain folders (module, tests, manifest,
 * lineage) for review in git and warm starts. Works against the running stack's NATS directly,
 * through the registry package's own export/import (one snapshot per import).
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
  let bus: Awaited<ReturnType<typeof connectBus>>;
  try {
    bus = await connectBus({
      url: targets.natsUrl,
      prefix: targets.prefix,
      name: "insitu-cli-library",
      logger,
    });
  } catch (error) {
    io.err(
      `Cannot reach NATS at ${redactUrl(targets.natsUrl)} — is the stack running? (${(error as Error).message})\n`,
    );
    return ExitCode.unreachable;
  }
  try {
    const registry = await Registry.open(bus, { logger });
    try {
      const target = resolve(directory);
      if (action === "export") {
        const summary = await exportLibrary(registry, target);
        if (values.json === true) io.out(`${JSON.stringify(summary, null, 2)}\n`);
        else
          io.out(
            `Exported ${summary.tools} tool(s) of library snapshot ${summary.snapshot} to ${summary.directory}\n`,
          );
      } else {
        const summary = await importLibrary(registry, target);
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
    } finally {
      registry.stop();
    }
    return ExitCode.ok;
  } finally {
    await bus.drain();
  }
}

/** A whole library, exported from the stack at `from` and imported into `to` (one snapshot); `insitu demo --keep`. */
export async function copyLibrary(
  from: { url: string; prefix: string },
  to: { url: string; prefix: string },
): Promise<{ tools: number; created: number; snapshot?: number }> {
  const directory = await mkdtemp(join(tmpdir(), "insitu-demo-library-"));
  try {
    await withRegistry(from, (registry) => exportLibrary(registry, directory));
    const imported = await withRegistry(to, (registry) => importLibrary(registry, directory));
    return {
      tools: imported.tools,
      created: imported.created,
      ...(imported.snapshot ? { snapshot: imported.snapshot.number } : {}),
    };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

async function withRegistry<T>(
  target: { url: string; prefix: string },
  use: (registry: Registry) => Promise<T>,
): Promise<T> {
  const logger = createLogger({ service: "insitu-cli", level: "warn" });
  const bus = await connectBus({ ...target, name: "insitu-cli-demo-keep", logger });
  try {
    const registry = await Registry.open(bus, { logger });
    try {
      return await use(registry);
    } finally {
      registry.stop();
    }
  } finally {
    await bus.drain();
  }
}
