import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import {
  BENCHMARKS,
  type Benchmark,
  type BatchPoint,
  type JudgePrompts,
  type RunReport,
  judgeRun,
  loadBenchmark,
  readPredictions,
  scoreRun,
  selectItems,
  writeReport,
} from "@insitu/eval";
import { connectBus } from "@insitu/bus";
import { CassetteEnv, replayForRole } from "@insitu/llm";
import { modelForRole } from "@insitu/roles";
import { numberOption } from "../args.js";
import { type CliIo, ExitCode } from "../io.js";
import { EVALS_BUCKET, EVALS_TTL_MS, LiveEvalState, evalIdFor } from "../eval/live-state.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { resolveTargets } from "../targets.js";
import { runBatchCommand } from "./batch.js";

const JUDGE_KINDS = ["hle", "dsqa", "xbench", "generic"] as const;

/**
 * `insitu eval DATASET --benchmark B`: judges a run's predictions with the benchmark's rule through
 * the model layer (the `judge` role), scores them under one denominator policy and writes
 * report.md, metrics.json, results.csv, convergence.csv and plots into --out.
 */
export async function runEval(dataset: string, values: Record<string, unknown>, io: CliIo): Promise<number> {
  const benchmark = values.benchmark;
  if (typeof benchmark !== "string" || !(BENCHMARKS as readonly string[]).includes(benchmark)) {
    io.err(`--benchmark must be one of ${BENCHMARKS.join(", ")}\n`);
    return ExitCode.usage;
  }
  const numbers: Record<string, number | undefined> = {};
  for (const name of ["limit", "sample", "judge-concurrency", "repeats"] as const) {
    const value = numberOption(values, name, { integer: true });
    if (typeof value === "string") {
      io.err(`${value}\n`);
      return ExitCode.usage;
    }
    numbers[name] = value;
  }
  let seed: number | undefined;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!Number.isInteger(seed)) {
      io.err(`--seed expects an integer, got "${String(values.seed)}"\n`);
      return ExitCode.usage;
    }
  }
  const given = asList(values.predictions);
  if (given.length > 0 && numbers.repeats !== undefined) {
    io.err("--repeats runs the questions; with --predictions, give one file per run instead.\n");
    return ExitCode.usage;
  }
  const prompts = await readJudgePrompts(asList(values["judge-prompt"]), io);
  if (!prompts) return ExitCode.usage;

  const all = await loadBenchmark(benchmark as Benchmark, resolve(dataset));
  const items = selectItems(all, {
    ...(seed === undefined ? {} : { seed }),
    ...(numbers.sample === undefined ? {} : { sample: numbers.sample }),
    ...(numbers.limit === undefined ? {} : { limit: numbers.limit }),
  });
  const out = resolve(typeof values.out === "string" ? values.out : `eval-${benchmark}`);
  await mkdir(out, { recursive: true });
  // Replaying (INSITU_REPLAY_DIR) with no recording for the judge stops here, before any question
  // is asked, with the typed LLM_NOT_CONFIGURED saying what is missing.
  const replayDir = io.env[CassetteEnv.replayDir];
  if (replayDir) replayForRole(resolve(replayDir), "judge", io.env);
  const judge = modelForRole("judge", io.env.INSITU_SCRIPT, io.env as NodeJS.ProcessEnv);
  const runsWanted = given.length > 0 ? given.length : (numbers.repeats ?? 1);
  io.out(
    `insitu eval: ${items.length} of ${all.length} ${benchmark} items, judge ${judge.model.provider}/${judge.model.model}, ${runsWanted} run(s) → ${out}\n`,
  );
  // Without --predictions, each run asks the questions with `insitu batch` (zero start by default,
  // an evolver barrier after each batch) against the running stack, then judges what it answered;
  // meanwhile the run's figures go to the stack's `evals` bucket for the dashboard.
  const asking = given.length === 0;
  const live = asking
    ? await openLiveState(values, io, {
        evalId: evalIdFor(benchmark, out),
        benchmark,
        items: items.length,
        runs: runsWanted,
      })
    : undefined;
  try {
    const runs: RunReport[] = [];
    let judgeFailures = 0;
    for (let run = 1; run <= runsWanted; run++) {
      const runDir = join(out, `run-${run}`);
      await mkdir(runDir, { recursive: true });
      let file = given[run - 1] ?? "";
      if (asking) {
        await live?.state.startRun(run);
        const questions = join(runDir, "questions.jsonl");
        const lines = items.map((item) =>
          JSON.stringify({
            id: item.id,
            question: item.question,
            answer: item.answer,
            ...(item.attachments ? { attachments: item.attachments.map((a) => a.dataUri) } : {}),
            ...(item.category ? { category: item.category } : {}),
            // Makes each repeat its own batch run (its own task ids), not a resume of the first.
            eval: { benchmark, run },
          }),
        );
        await writeFile(questions, `${lines.join("\n")}\n`);
        io.out(`run ${run}: asking ${items.length} question(s) with insitu batch\n`);
        const code = await runBatchCommand(questions, { ...batchOptions(values), out: runDir }, io, {
          onRecord: (_id, record) => void live?.state.answered(record),
          onBatch: (row) => void live?.state.batch(row),
        });
        if (code === ExitCode.usage || code === ExitCode.unreachable || code === ExitCode.notConfigured) {
          await live?.state.failed(`insitu batch exited with code ${code}`);
          return code;
        }
        file = join(runDir, "predictions.jsonl");
      }
      const predictions = await readPredictions(resolve(file));
      const batches = await readBatches(join(resolve(file), "..", "batches.jsonl"));
      await live?.state.judging(0);
      const judged = await judgeRun({
        items,
        predictions,
        model: judge.model,
        cachePath: join(runDir, "judged.jsonl"),
        ...(Object.keys(prompts).length > 0 ? { prompts } : {}),
        concurrency: numbers["judge-concurrency"] ?? 8,
        onJudged: (done, total) => {
          void live?.state.judging(done);
          if (done === total || done % 25 === 0) io.out(`  run ${run}: judged ${done}/${total}\n`);
        },
      });
      judgeFailures += judged.failed.length;
      for (const failure of judged.failed.slice(0, 5))
        io.err(`  judge failed on ${failure.id}: ${failure.error}\n`);
      const metrics = scoreRun(judged.scored, judged.usage);
      await live?.state.judgedRun(metrics);
      runs.push({ metrics, scored: judged.scored, batches });
      io.out(
        `  run ${run} (${basename(file)}): accuracy ${metrics.accuracy.accuracy?.toFixed(2) ?? "n/a"}% (${metrics.accuracy.correct}/${metrics.items}), coverage ${metrics.coverage?.toFixed(1) ?? "n/a"}%, ${judged.cached} verdicts from cache\n`,
      );
    }
    const summary = await writeReport(
      out,
      {
        benchmark,
        dataset: resolve(dataset),
        judge: { provider: judge.model.provider, model: judge.model.model },
        protocol: {
          items: items.length,
          seed: seed ?? null,
          sample: numbers.sample ?? null,
          limit: numbers.limit ?? null,
          runs: runs.length,
          batchSize:
            typeof values["batch-size"] === "string"
              ? Number(values["batch-size"])
              : given.length > 0
                ? null
                : 16,
          start:
            typeof values["warm-start"] === "string"
              ? values["warm-start"]
              : given.length > 0
                ? null
                : "zero",
        },
        runs,
      },
      { env: io.env as Record<string, string | undefined> },
    );
    for (const warning of summary.warnings) io.err(`warning: ${warning}\n`);
    io.out(`report: ${join(out, "report.md")}\n`);
    if (summary.accuracy) {
      io.out(
        `accuracy: ${summary.accuracy.mean.toFixed(2)}${summary.accuracy.runs > 1 ? ` ± ${summary.accuracy.sd.toFixed(2)} over ${summary.accuracy.runs} runs` : ""}\n`,
      );
    }
    if (judgeFailures > 0) {
      io.err(
        `${judgeFailures} judge call(s) failed; those items count as wrong — run the same command again to retry them.\n`,
      );
      await live?.state.failed(`${judgeFailures} judge call(s) failed`);
      return ExitCode.taskFailed;
    }
    await live?.state.done();
    return ExitCode.ok;
  } catch (error) {
    await live?.state.failed(error instanceof Error ? error.message : String(error));
    throw error;
  } finally {
    await live?.close();
  }
}

/**
 * The live state in the stack's KV bucket `evals` (best-effort: without NATS the eval still runs
 * and `insitu batch` says the stack is unreachable).
 */
async function openLiveState(
  values: Record<string, unknown>,
  io: CliIo,
  init: { evalId: string; benchmark: string; items: number; runs: number },
): Promise<{ state: LiveEvalState; close(): Promise<void> } | undefined> {
  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  let bus: Awaited<ReturnType<typeof connectBus>>;
  try {
    bus = await connectBus({ url: targets.natsUrl, prefix: targets.prefix, name: "insitu-cli-eval" });
  } catch {
    return undefined;
  }
  try {
    const kv = await bus.kv(EVALS_BUCKET, { ttlMs: EVALS_TTL_MS });
    const state = new LiveEvalState(kv, init, undefined, (error) =>
      io.err(`warning: the dashboard's eval state could not be written (${(error as Error).message})\n`),
    );
    return {
      state,
      async close() {
        await state.flush();
        await bus.drain();
      },
    };
  } catch (error) {
    io.err(`warning: no live eval state for the dashboard (${(error as Error).message})\n`);
    await bus.drain();
    return undefined;
  }
}

/** The options `insitu eval` passes on to `insitu batch`. */
function batchOptions(values: Record<string, unknown>): Record<string, unknown> {
  const passed: Record<string, unknown> = {};
  for (const name of [
    "batch-size",
    "concurrency",
    "warm-start",
    "share-within-batch",
    "nats",
    "monitor",
    "prefix",
  ]) {
    if (values[name] !== undefined) passed[name] = values[name];
  }
  return passed;
}

function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return typeof value === "string" ? [value] : [];
}

/** `--judge-prompt hle=FILE`: a benchmark's own judge prompt (under its licence) with our placeholders. */
async function readJudgePrompts(specs: readonly string[], io: CliIo): Promise<JudgePrompts | undefined> {
  const prompts: JudgePrompts = {};
  for (const spec of specs) {
    const [kind, file] = spec.split("=", 2);
    if (!kind || !file || !(JUDGE_KINDS as readonly string[]).includes(kind)) {
      io.err(`--judge-prompt expects KIND=FILE with KIND one of ${JUDGE_KINDS.join(", ")}; got "${spec}"\n`);
      return undefined;
    }
    prompts[kind as (typeof JUDGE_KINDS)[number]] = await readFile(resolve(file), "utf8");
  }
  return prompts;
}

/** batches.jsonl beside the predictions (from `insitu batch`), for the convergence curves. */
async function readBatches(path: string): Promise<BatchPoint[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return [];
  }
  const points: BatchPoint[] = [];
  let queries = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const tasks =
      typeof value.items === "number" ? value.items : typeof value.tasks === "number" ? value.tasks : 0;
    queries = typeof value.queries === "number" ? value.queries : queries + tasks;
    const point: BatchPoint = {
      batch: typeof value.batch === "number" ? value.batch : points.length + 1,
      queries,
      librarySize: typeof value.librarySize === "number" ? value.librarySize : 0,
      // The curve is the cumulative EGL (Σ admitted ÷ Σ calls so far), as the paper plots it.
      egl:
        typeof value.eglCumulative === "number"
          ? value.eglCumulative
          : typeof value.egl === "number"
            ? value.egl
            : null,
    };
    if (typeof value.costUsd === "number") point.costUsd = value.costUsd;
    points.push(point);
  }
  return points;
}
