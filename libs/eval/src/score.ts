import type { EvalItem } from "./datasets.js";
import type { Prediction, Verdict } from "./judges.js";
import {
  type PrecisionRecall,
  type Proportion,
  meanPartScores,
  proportion,
  rmsCalibrationError,
} from "./metrics.js";

/** Per-task figures the batch run records beside each prediction. */
export interface TaskFigures {
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  wallMs?: number;
  rounds?: number;
  toolsCreated?: number;
  toolCalls?: number;
}

/** One batch barrier of the run (from batches.jsonl), for the convergence curves. */
export interface BatchPoint {
  batch: number;
  /** Queries finished up to and including this batch. */
  queries: number;
  librarySize: number;
  /** Cumulative EGL after this batch (tools admitted ÷ tool calls); null before any call. */
  egl: number | null;
  costUsd?: number;
}

export interface ScoredItem {
  item: EvalItem;
  prediction: Prediction;
  verdict: Verdict;
  figures: TaskFigures;
}

export interface RunMetrics {
  /** All dataset items: the denominator of every rate. */
  items: number;
  /** Items with a non-empty final answer. */
  answered: number;
  /** answered ÷ items, percent (null for an empty dataset). */
  coverage: number | null;
  accuracy: Proportion;
  byCategory: Record<string, Proportion>;
  /** RMS calibration error (percent) over the items that carry a confidence; null when none do. */
  calibrationError: number | null;
  calibratedItems: number;
  /** DeepSearchQA-style mean precision / recall / F1 over all items, when the judge gives parts. */
  partScores: PrecisionRecall | null;
  perQuery: {
    inputTokens: number | null;
    outputTokens: number | null;
    costUsd: number | null;
    wallMs: number | null;
  };
  totals: {
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    judgeInputTokens: number;
    judgeOutputTokens: number;
  };
}

/** Scores a run under the one denominator policy: every item counts, missing = wrong. */
export function scoreRun(
  scored: readonly ScoredItem[],
  judgeUsage: { inputTokens: number; outputTokens: number } = { inputTokens: 0, outputTokens: 0 },
): RunMetrics {
  const n = scored.length;
  const correct = scored.filter((s) => s.verdict.correct).length;
  const answered = scored.filter((s) => (s.prediction.finalAnswer ?? "").trim() !== "").length;
  const categories = new Map<string, { correct: number; total: number }>();
  for (const s of scored) {
    const name = s.item.category ?? "(none)";
    const entry = categories.get(name) ?? { correct: 0, total: 0 };
    entry.total++;
    if (s.verdict.correct) entry.correct++;
    categories.set(name, entry);
  }
  const byCategory: Record<string, Proportion> = {};
  for (const [name, entry] of [...categories].sort(([a], [b]) => a.localeCompare(b))) {
    byCategory[name] = proportion(entry.correct, entry.total);
  }
  const calibration = scored
    .filter((s) => s.verdict.confidence !== undefined)
    .map((s) => ({ confidence: s.verdict.confidence ?? 0, correct: s.verdict.correct }));
  const withParts = scored.some((s) => s.verdict.parts !== undefined);
  const sum = (pick: (f: TaskFigures) => number | undefined) => {
    const values = scored.map((s) => pick(s.figures)).filter((v): v is number => v !== undefined);
    return { total: values.reduce((a, b) => a + b, 0), count: values.length };
  };
  const input = sum((f) => f.inputTokens);
  const output = sum((f) => f.outputTokens);
  const cost = sum((f) => f.costUsd);
  const wall = sum((f) => f.wallMs);
  const perItem = (total: number, count: number) => (count === 0 ? null : total / n);
  return {
    items: n,
    answered,
    coverage: n === 0 ? null : (100 * answered) / n,
    accuracy: proportion(correct, n),
    byCategory,
    calibrationError: rmsCalibrationError(calibration),
    calibratedItems: calibration.length,
    partScores: withParts
      ? meanPartScores(
          scored.map((s) =>
            s.verdict.parts ? { parts: s.verdict.parts, excessive: s.verdict.excessive ?? [] } : undefined,
          ),
        )
      : null,
    perQuery: {
      inputTokens: perItem(input.total, input.count),
      outputTokens: perItem(output.total, output.count),
      costUsd: perItem(cost.total, cost.count),
      wallMs: wall.count === 0 ? null : wall.total / wall.count,
    },
    totals: {
      inputTokens: input.total,
      outputTokens: output.total,
      costUsd: cost.total,
      judgeInputTokens: judgeUsage.inputTokens,
      judgeOutputTokens: judgeUsage.outputTokens,
    },
  };
}
