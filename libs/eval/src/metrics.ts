/**
 * Metric functions of `insitu eval`. One denominator policy everywhere: every dataset item counts
 * (a missing or failed prediction is wrong); how many items got a prediction is reported apart as
 * coverage. The original's evaluators differed per benchmark (HLE counted all items, xbench and
 * FinSearchComp dropped missing ids, DSQA dropped empty answers) — see ../shared/FACTS-2.md §7.
 * All functions are pure; percentages are in points (0–100).
 */

const Z95 = 1.959963984540054;

export interface Interval {
  /** Point estimate, in percent. */
  value: number;
  /** Lower and upper bound of the 95% interval, in percent. */
  low: number;
  high: number;
  /** Half-width of the interval, in percentage points (for "48.0 ± 1.9"). */
  halfWidth: number;
}

export interface Proportion {
  /** Items judged correct. */
  correct: number;
  /** Denominator: all dataset items. */
  total: number;
  /** Correct ÷ total in percent; null when there are no items. */
  accuracy: number | null;
  /** Wald interval (what the original reports: p ± 1.96·√(p(1−p)/n)); null when n = 0. */
  wald: Interval | null;
  /** Wilson score interval, which stays inside [0, 100] and is honest at 0% and 100%; null when n = 0. */
  wilson: Interval | null;
}

/** Accuracy with both 95% intervals. `correct` must not exceed `total`. */
export function proportion(correct: number, total: number): Proportion {
  if (!Number.isInteger(correct) || !Number.isInteger(total) || correct < 0 || total < 0 || correct > total) {
    throw new RangeError(`proportion needs 0 ≤ correct ≤ total (integers); got ${correct}/${total}`);
  }
  if (total === 0) return { correct, total, accuracy: null, wald: null, wilson: null };
  return {
    correct,
    total,
    accuracy: (100 * correct) / total,
    wald: waldInterval(correct, total),
    wilson: wilsonInterval(correct, total),
  };
}

export function waldInterval(correct: number, total: number, z = Z95): Interval {
  const p = correct / total;
  const half = z * Math.sqrt((p * (1 - p)) / total);
  return toPercent(p, Math.max(0, p - half), Math.min(1, p + half), half);
}

export function wilsonInterval(correct: number, total: number, z = Z95): Interval {
  const p = correct / total;
  const z2 = z * z;
  const denominator = 1 + z2 / total;
  const centre = (p + z2 / (2 * total)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total))) / denominator;
  const low = Math.max(0, centre - half);
  const high = Math.min(1, centre + half);
  return toPercent(p, low, high, (high - low) / 2);
}

function toPercent(p: number, low: number, high: number, half: number): Interval {
  return { value: 100 * p, low: 100 * low, high: 100 * high, halfWidth: 100 * half };
}

export interface CalibrationPoint {
  /** Stated confidence in [0, 1]. */
  confidence: number;
  correct: boolean;
}

/**
 * RMS calibration error as HLE defines it (sort by confidence, consecutive bins of `binSize`, the
 * last bin taking the remainder, √Σ (|bin|/N)(mean conf − mean correct)²), in percent — over ALL
 * bins (the original's loop skipped the last one and crashed below `binSize` items). Fewer items
 * than `binSize` make one bin. Null when there are no points.
 */
export function rmsCalibrationError(points: readonly CalibrationPoint[], binSize = 100): number | null {
  if (!Number.isInteger(binSize) || binSize < 1)
    throw new RangeError(`binSize must be a positive integer; got ${binSize}`);
  const n = points.length;
  if (n === 0) return null;
  const sorted = [...points].sort((a, b) => a.confidence - b.confidence);
  const binCount = Math.max(1, Math.floor(n / binSize));
  let sum = 0;
  for (let bin = 0; bin < binCount; bin++) {
    const start = bin * binSize;
    const end = bin === binCount - 1 ? n : start + binSize;
    const members = sorted.slice(start, end);
    const meanConfidence = members.reduce((s, p) => s + p.confidence, 0) / members.length;
    const meanCorrect = members.reduce((s, p) => s + (p.correct ? 1 : 0), 0) / members.length;
    sum += (members.length / n) * (meanConfidence - meanCorrect) ** 2;
  }
  return 100 * Math.sqrt(sum);
}

/** One DeepSearchQA-style verdict: which expected parts were found, and the extra answers given. */
export interface PartVerdict {
  parts: Record<string, boolean>;
  excessive: readonly string[];
}

export interface PrecisionRecall {
  precision: number;
  recall: number;
  f1: number;
}

/**
 * Per-item precision / recall / F1 of a part verdict (TP = parts found, FN = parts missed,
 * FP = excessive answers). An item with nothing expected and nothing extra scores 1 on all three.
 */
export function partScores(verdict: PartVerdict): PrecisionRecall {
  const values = Object.values(verdict.parts);
  const tp = values.filter(Boolean).length;
  const fn = values.length - tp;
  const fp = verdict.excessive.length;
  const precision = tp + fp === 0 ? (fn === 0 ? 1 : 0) : tp / (tp + fp);
  const recall = tp + fn === 0 ? (fp === 0 ? 1 : 0) : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** An item is right only when every expected part was found and nothing extra was given. */
export function partVerdictCorrect(verdict: PartVerdict): boolean {
  return Object.values(verdict.parts).every(Boolean) && verdict.excessive.length === 0;
}

/** Mean of per-item scores over ALL items; items without a verdict (missing) score 0. */
export function meanPartScores(verdicts: readonly (PartVerdict | undefined)[]): PrecisionRecall | null {
  if (verdicts.length === 0) return null;
  let precision = 0;
  let recall = 0;
  let f1 = 0;
  for (const verdict of verdicts) {
    if (!verdict) continue;
    const s = partScores(verdict);
    precision += s.precision;
    recall += s.recall;
    f1 += s.f1;
  }
  const n = verdicts.length;
  return { precision: (100 * precision) / n, recall: (100 * recall) / n, f1: (100 * f1) / n };
}

export interface Spread {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for one run. */
  sd: number;
  min: number;
  max: number;
  runs: number;
}

/** Mean ± spread across repeated runs (the paper reports the mean of 3). Null for no runs. */
export function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance =
    values.length < 2 ? 0 : values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1);
  return {
    mean,
    sd: Math.sqrt(variance),
    min: Math.min(...values),
    max: Math.max(...values),
    runs: values.length,
  };
}

/** "48.00 ± 1.96" with two decimals, or "n/a". */
export function formatInterval(interval: Interval | null): string {
  if (!interval) return "n/a";
  return `${interval.value.toFixed(2)} ± ${interval.halfWidth.toFixed(2)}`;
}
