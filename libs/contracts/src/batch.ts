// Contracts of batch runs submitted over HTTP (`POST /v1/batches`): the durable work item that
// hands a run to whichever gateway replica is free, and where runs keep their state.
import { z } from "zod";
import { defineWorkQueue } from "./define.js";

/** KV bucket of batch runs: `run.<runId>` (the runner's state), `submission.<runId>`, `progress.<runId>`. */
export const BATCHES_BUCKET = "batches";
/** Object Store bucket holding each submitted run's questions as JSONL (`<runId>.jsonl`). */
export const BATCH_INPUTS_BUCKET = "batch-inputs";

/** Run ids are the first 12 hex digits of a hash of the questions and the run-shaping options. */
export const BatchRunId = z.string().regex(/^[0-9a-f]{12}$/, "a 12-digit hex run id");

export const BatchWork = defineWorkQueue({
  stream: "batch-work",
  subject: "batch.work",
  version: 1,
  description:
    "Run one submitted batch run to its end (enqueue with message id = batch:<runId>). The item stays unacked while the run goes on, with in-progress beats; a killed gateway's item is redelivered and the run resumes from KV `batches` (run.<runId>), never submitting a task twice.",
  schema: z.object({ runId: BatchRunId }).strict(),
});
