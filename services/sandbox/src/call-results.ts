import { type ObjectBucket, type OutcomeStore, objectOutcomeStore } from "@insitu/bus";
import { type ToolOutcome, parseRecordedOutcome } from "@insitu/tool-kit";

/** Where outcomes of keyed tool calls are recorded (the `tool-call-results` Object Store). */
export type CallResultStore = OutcomeStore<ToolOutcome>;

/**
 * The Object Store as a {@link CallResultStore}. A record that is not bounded JSON or not a tool
 * outcome is quarantined (counted, listed by `insitu quarantine list`) and reads as absent: the
 * call runs again rather than the sandbox failing it.
 */
export function objectCallResultStore(bucket: ObjectBucket): CallResultStore {
  return objectOutcomeStore(bucket, parseRecordedOutcome);
}
