export { BATCHES_BUCKET, BATCH_INPUTS_BUCKET } from "@insitu/contracts";
export { requestBarrier } from "./barrier.js";
export { assertDataUris, attachmentSources, busBatchPorts } from "./bus-ports.js";
export type { BusBatchPortsOptions } from "./bus-ports.js";
export {
  DEFAULT_BATCH_SIZE,
  MAX_BATCH_FILE_BYTES,
  MAX_BATCH_ITEMS,
  MAX_QUESTION_CHARS,
  batchRunId,
  batchTaskId,
  parseQuestions,
} from "./input.js";
export type { BatchItem } from "./input.js";
export { predictionLine, summaryMarkdown, writeBatchOutputs } from "./outputs.js";
export { runBatch } from "./runner.js";
export type {
  BatchPorts,
  BatchProgress,
  BatchRow,
  BatchRunResult,
  BatchRunState,
  RunBatchOptions,
} from "./runner.js";
export { BatchRunSettingsSchema, BatchRuns, buildView, prepareBatchRun } from "./runs.js";
export type { BatchRunProgress, BatchRunSettings, BatchRunView, BatchSubmission } from "./runs.js";
