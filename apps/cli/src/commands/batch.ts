import { readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { connectBus } from "@insitu/bus";
import { createLogger } from "@insitu/telemetry";
import { numberOption } from "../args.js";
import {
  BATCHES_BUCKET,
  type BatchProgress,
  DEFAULT_BATCH_SIZE,
  MAX_BATCH_FILE_BYTES,
  type RunBatchOptions,
  batchRunId,
  busBatchPorts,
  parseQuestions,
  runBatch,
  writeBatchOutputs,
} from "@insitu/batch";
import { type CliIo, ExitCode } from "../io.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { reachStack, resolveTargets } from "../targets.js";
import { importLibrary } from "./library.js";

export { BATCHES_BUCKET };

/**
 * `insitu batch questions.jsonl`: validates the whole file first (a bad line stops everything
 * before any task starts), then runs it batch by batch against the running stack's NATS, showing a
 * progress bar with an ETA (plain lines when stdout is not a terminal), and writes the outputs.
 */
export async function runBatchCommand(
  file: string,
  values: Record<string, unknown>,
  io: CliIo,
  hooks: Pick<RunBatchOptions, "onRecord" | "onBatch"> = {},
): Promise<number> {
  const batchSize = numberOption(values, "batch-size", { integer: true }) ?? DEFAULT_BATCH_SIZE;
  const concurrency = numberOption(values, "concurrency", { integer: true });
  for (const value of [batchSize, concurrency]) {
    if (typeof value === "string") {
      io.err(`${value}\n`);
      return ExitCode.usage;
    }
  }
  const size = await stat(file).catch(() => undefined);
  if (!size?.isFile()) {
    io.err(`insitu batch: ${file} is not a readable file\n`);
    return ExitCode.usage;
  }
  if (size.size > MAX_BATCH_FILE_BYTES) {
    io.err(`insitu batch: ${file} is ${size.size} bytes; at most ${MAX_BATCH_FILE_BYTES} are accepted\n`);
    return ExitCode.usage;
  }
  const text = await readFile(file, "utf8");
  // Throws BATCH_INPUT_INVALID naming the line; runCli prints it and exits with the usage code.
  const items = parseQuestions(text);
  const share = values["share-within-batch"] === true;
  const warmStart = typeof values["warm-start"] === "string" ? values["warm-start"] : "zero";
  const warmSpec = /^(zero|current|\d+)$/.test(warmStart) ? warmStart : resolve(warmStart);
  const size16 = batchSize as number;
  const runId = batchRunId(text, { batchSize: size16, share, warmStart: warmSpec });
  const out = resolve(typeof values.out === "string" ? values.out : `batch-${runId}`);

  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  const logger = createLogger({ service: "insitu-cli", level: "warn", write: (line) => io.err(`${line}\n`) });
  const bus = await reachStack(io, targets.natsUrl, () =>
    connectBus({
      url: targets.natsUrl,
      prefix: targets.prefix,
      name: "insitu-cli-batch",
      logger,
    }),
  );
  if (bus === undefined) return ExitCode.unreachable;
  const tty = io.color;
  let lastLine = "";
  const onProgress = (progress: BatchProgress) => {
    const line = progressLine(progress);
    if (line === lastLine) return;
    lastLine = line;
    if (tty) io.out(`\r\x1b[2K${line}`);
    else io.out(`${line}\n`);
  };
  try {
    io.err(`insitu batch: run ${runId}, ${items.length} question(s), outputs in ${out}\n`);
    const ports = await busBatchPorts(bus, {
      baseDir: dirname(resolve(file)),
      // A warm start from a folder written by `insitu library export`.
      async importFolder(folder) {
        await importLibrary(bus, folder, {
          reason: `batch warm start from ${folder}`,
          replace: true,
          requireUnchanged: true,
        });
      },
    });
    const result = await runBatch(ports, {
      runId,
      items,
      batchSize: size16,
      concurrency: (concurrency as number | undefined) ?? size16,
      share,
      warmStart: warmSpec,
      onProgress,
      ...hooks,
    });
    if (tty) io.out("\n");
    const written = await writeBatchOutputs(out, result.state, items, result.records);
    if (values.json === true)
      io.out(
        `${JSON.stringify(
          result.state.rows.map(({ barrier: _b, ...row }) => row),
          null,
          2,
        )}\n`,
      );
    else io.out(`Wrote ${written.predictions}, ${written.batches} and ${written.summary}\n`);
    const failed = [...result.records.values()].filter((record) => record.status !== "succeeded").length;
    return failed > 0 ? ExitCode.taskFailed : ExitCode.ok;
  } finally {
    await bus.drain();
  }
}

export function progressLine(progress: BatchProgress): string {
  const width = 24;
  const filled = progress.total === 0 ? width : Math.round((progress.done / progress.total) * width);
  const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
  const eta = progress.etaMs === undefined ? "ETA --" : `ETA ${formatDuration(progress.etaMs)}`;
  const phase = progress.phase === "barrier" ? " (absorbing)" : progress.phase === "done" ? " done" : "";
  return `batch ${progress.batch}/${progress.batches} ${bar} ${progress.done}/${progress.total} ${eta}${phase}`;
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}
