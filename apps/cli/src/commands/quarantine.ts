import { openQuarantine } from "@insitu/bus";
import { type CliIo, ExitCode } from "../io.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { reachStack, resolveTargets } from "../targets.js";

/** `insitu quarantine list|purge`: entries the services skipped because they could not decode them. */
export async function runQuarantine(
  positionals: readonly string[],
  values: Record<string, unknown>,
  io: CliIo,
): Promise<number> {
  const [action, bucket] = positionals;
  if (action !== "list" && action !== "purge") {
    io.err("Usage: insitu quarantine list [BUCKET] | insitu quarantine purge\n");
    return ExitCode.usage;
  }
  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  const quarantine = await reachStack(io, targets.natsUrl, () =>
    openQuarantine({ url: targets.natsUrl, prefix: targets.prefix }),
  );
  if (quarantine === undefined) return ExitCode.unreachable;
  try {
    if (action === "purge") {
      const purged = await quarantine.purge();
      io.out(
        values.json === true
          ? `${JSON.stringify({ purged })}\n`
          : `Purged ${purged} quarantined entr(y/ies).\n`,
      );
      return ExitCode.ok;
    }
    const entries = await quarantine.list(bucket ? { bucket } : {});
    if (values.json === true) io.out(`${JSON.stringify(entries, null, 2)}\n`);
    else if (entries.length === 0) io.out("Nothing quarantined.\n");
    else
      for (const entry of entries)
        io.out(
          `#${entry.seq}  ${entry.time}  ${entry.bucket}/${entry.key}@${entry.revision}  ${entry.size} B  ${entry.reason}\n`,
        );
    return ExitCode.ok;
  } finally {
    await quarantine.close();
  }
}
