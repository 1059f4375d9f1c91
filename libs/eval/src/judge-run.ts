import { isInsituError } from "@insitu/errors";
import { appendFile, readFile } from "node:fs/promises";
import type { LanguageModel } from "@insitu/llm";
import type { EvalItem } from "./datasets.js";
import { type JudgePrompts, type Prediction, type Verdict, judgeItem, judgementKey } from "./judges.js";
import { isRecord, parseJsonLines } from "./rows.js";
import type { ScoredItem, TaskFigures } from "./score.js";

export interface JudgeRunOptions {
  items: readonly EvalItem[];
  /** Predictions by item id; an item without one is scored as missing (wrong). */
  predictions: ReadonlyMap<string, { prediction: Prediction; figures: TaskFigures }>;
  model: LanguageModel;
  /** judged.jsonl: verdicts already paid for are read from here and new ones appended, so a run resumes. */
  cachePath: string;
  prompts?: JudgePrompts;
  /** Judge calls in flight (the original used up to 30 threads). Default 8. */
  concurrency?: number;
  signal?: AbortSignal;
  onJudged?: (done: number, total: number) => void;
}

export interface JudgeRunResult {
  scored: ScoredItem[];
  usage: { inputTokens: number; outputTokens: number };
  /** Verdicts taken from the cache (no model call). */
  cached: number;
  /** Judge calls that failed; those items are scored wrong and retried on the next run. */
  failed: { id: string; error: string }[];
}

/** Judges every item once, reusing cached verdicts; items are returned in dataset order. */
export async function judgeRun(options: JudgeRunOptions): Promise<JudgeRunResult> {
  const cache = await readCache(options.cachePath);
  const scored: ScoredItem[] = new Array(options.items.length);
  const usage = { inputTokens: 0, outputTokens: 0 };
  const failed: { id: string; error: string }[] = [];
  let cached = 0;
  let done = 0;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      const item = options.items[index];
      if (!item) return;
      const found = options.predictions.get(item.id);
      const prediction = found?.prediction ?? { id: item.id, status: "missing" };
      const figures = found?.figures ?? {};
      const key = judgementKey(item, prediction, options.prompts);
      let verdict = cache.get(key);
      if (verdict) cached++;
      else {
        try {
          const outcome = await judgeItem(options.model, item, prediction, {
            ...(options.prompts ? { prompts: options.prompts } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          });
          verdict = outcome.verdict;
          usage.inputTokens += outcome.usage.inputTokens;
          usage.outputTokens += outcome.usage.outputTokens;
          await appendFile(options.cachePath, `${JSON.stringify({ key, id: item.id, verdict })}\n`);
          cache.set(key, verdict);
        } catch (error) {
          if (options.signal?.aborted) throw error;
          // With the error's code (LLM_CASSETTE_MISS, LLM_RATE_LIMITED …) so the user sees which kind.
          failed.push({
            id: item.id,
            error: isInsituError(error)
              ? `${error.code}: ${error.message}`
              : error instanceof Error
                ? error.message
                : String(error),
          });
          verdict = { correct: false, shortcut: "judge failed" };
        }
      }
      scored[index] = { item, prediction, verdict, figures };
      done++;
      options.onJudged?.(done, options.items.length);
    }
  };
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 8, options.items.length || 1));
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { scored, usage, cached, failed };
}

async function readCache(path: string): Promise<Map<string, Verdict>> {
  const cache = new Map<string, Verdict>();
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return cache;
  }
  // A line cut by a kill mid-write is skipped (its item is judged again).
  const lines = text.split("\n");
  for (const line of lines) {
    if (line.trim() === "") continue;
    try {
      const rows = parseJsonLines(line);
      const fields = rows[0]?.fields;
      if (
        fields &&
        typeof fields.key === "string" &&
        isRecord(fields.verdict) &&
        typeof fields.verdict.correct === "boolean"
      ) {
        cache.set(fields.key, fields.verdict as unknown as Verdict);
      }
    } catch {
      // skip the torn line
    }
  }
  return cache;
}
