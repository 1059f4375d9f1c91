/**
 * @insitu/eval — the original's evaluation protocol for insitu runs: benchmark loaders, judges
 * through the model layer, metrics under one denominator policy, and the report with plots.
 */
export {
  BENCHMARKS,
  Benchmark,
  itemsFromRows,
  loadBenchmark,
  xbenchDecrypt,
  xbenchEncrypt,
} from "./datasets.js";
export type { EvalAttachment, EvalItem, JudgeSpec } from "./datasets.js";
export {
  expectedParts,
  formatPythonTemplate,
  judgeItem,
  judgementKey,
  parseAnswerScore,
  parseXbenchVerdict,
  responseText,
} from "./judges.js";
export type { JudgeOptions, JudgeOutcome, JudgePrompts, Prediction, Verdict } from "./judges.js";
export { judgeRun } from "./judge-run.js";
export type { JudgeRunOptions, JudgeRunResult } from "./judge-run.js";
export {
  formatInterval,
  meanPartScores,
  partScores,
  partVerdictCorrect,
  proportion,
  rmsCalibrationError,
  spread,
  waldInterval,
  wilsonInterval,
} from "./metrics.js";
export type {
  CalibrationPoint,
  Interval,
  PartVerdict,
  PrecisionRecall,
  Proportion,
  Spread,
} from "./metrics.js";
export { barChart, escapeXml, lineChart, niceMax } from "./plots.js";
export { REPORT_FILES, renderPlots, summarize, writeReport } from "./report.js";
export type { ReportInput, ReportSummary, RunReport, WriteReportOptions, WrittenReport } from "./report.js";
export { findPlotFont, pngRenderer, pngSize } from "./png.js";
export type { FontChoice, PngRenderer } from "./png.js";
export { MAX_DATASET_BYTES, datasetError, parseCsv, parseJsonLines, readRows } from "./rows.js";
export type { Row } from "./rows.js";
export { scoreRun } from "./score.js";
export type { BatchPoint, RunMetrics, ScoredItem, TaskFigures } from "./score.js";
export { mulberry32, selectItems } from "./select.js";
export type { SelectOptions } from "./select.js";
export { readAnswer, readPredictions } from "./predictions.js";
export type { PredictionEntry } from "./predictions.js";
