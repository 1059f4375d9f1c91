import { type DeadLetterRecord, openDeadLetterAdmin } from "@insitu/bus";
import { type CliIo, ExitCode } from "../io.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { reachStack, resolveTargets } from "../targets.js";

const USAGE =
  "Usage: insitu dlq list [QUEUE] | insitu dlq show SEQ | insitu dlq retry SEQ | insitu dlq purge [QUEUE]\n";

/** `insitu dlq`: the dead-letter stream of the running stack, straight from NATS. */
export async function runDeadLetters(
  positionals: readonly string[],
  values: Record<string, unknown>,
  io: CliIo,
): Promise<number> {
  const [action, argument] = positionals;
  const needsSeq = action === "show" || action === "retry";
  const seq = argument !== undefined ? Number(argument) : Number.NaN;
  if (
    !(action === "list" || action === "purge" || needsSeq) ||
    (needsSeq && !(Number.isInteger(seq) && seq > 0))
  ) {
    io.err(USAGE);
    return ExitCode.usage;
  }
  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  const admin = await reachStack(io, targets.natsUrl, () =>
    openDeadLetterAdmin({ url: targets.natsUrl, prefix: targets.prefix }),
  );
  if (admin === undefined) return ExitCode.unreachable;
  const json = values.json === true;
  try {
    switch (action) {
      case "list": {
        const letters = await admin.list(argument ? { subject: argument } : {});
        if (json) io.out(`${JSON.stringify(letters, null, 2)}\n`);
        else if (letters.length === 0) io.out("No dead letters.\n");
        else for (const letter of letters) io.out(`${summary(letter)}\n`);
        return ExitCode.ok;
      }
      case "show": {
        const letter = await admin.show(seq);
        io.out(
          json
            ? `${JSON.stringify(letter, null, 2)}\n`
            : `${summary(letter)}\n${JSON.stringify(letter.data, null, 2)}\n`,
        );
        return ExitCode.ok;
      }
      case "retry": {
        const result = await admin.retry(seq);
        io.out(
          json
            ? `${JSON.stringify(result)}\n`
            : `Dead letter #${seq} is back on ${result.subject} as ${result.id}.\n`,
        );
        return ExitCode.ok;
      }
      default: {
        const purged = await admin.purge(argument ? { subject: argument } : {});
        io.out(json ? `${JSON.stringify({ purged })}\n` : `Purged ${purged} dead letter(s).\n`);
        return ExitCode.ok;
      }
    }
  } finally {
    await admin.close();
  }
}

function summary(letter: DeadLetterRecord): string {
  const what = letter.unreadable
    ? `UNREADABLE (${letter.unreadable})`
    : `${letter.code ?? "?"}: ${letter.reason}`;
  return `#${letter.seq}  ${letter.time}  ${letter.subject}  deliveries=${letter.deliveries}  ${what}`;
}
