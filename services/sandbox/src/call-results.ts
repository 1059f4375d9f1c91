import { type ObjectBucket, type OutcomeStore, objectOutcomeStore } from "@insitu/bus";
import { type ToolOutcome, ToolOutcomeSchema } from "@insitu/tool-kit";

/** Where outcomes of keyed tool calls are recorded (the `tool-call-results` Object Store). */
export type CallResultStore = OutcomeStore<ToolOutcome>;

/** The Object Store as a {@link CallResultStore}; a record that is not a tool outcome reads as absent. */
export function objectCallResultStore(bucket: ObjectBucket): CallResultStore {
  return objectOutcomeStore(bucket, (value) => ToolOutcomeSchema.safeParse(value).data);
}
