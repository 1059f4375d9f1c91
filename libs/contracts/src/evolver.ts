// Contracts of the evolver (`services/evolver`): the batch barrier's absorb — cluster the new tools
// with the library, merge each same-capability group into one tool admitted only under test, and
// commit every change of one barrier as ONE library snapshot.
import { z } from "zod";
import { defineEvent, defineWorkQueue } from "./define.js";
import { ContentHash, ToolName } from "./envelope.js";

/** Barrier ids: batch runs use `<runId>.b<index>`, the schedule `scheduled-<epoch-minute>`. */
export const BarrierId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only");

/** KV bucket of the evolver's durable state: `report.<barrierId>`, `reviewed.<hex>`, `state`. */
export const EVOLVER_BUCKET = "evolver";

/** KV key of one barrier's report. */
export function evolverReportKey(barrierId: string): string {
  return `report.${barrierId}`;
}

/** Why a group was not merged (one line a person can act on). */
export const RejectedMergeSchema = z
  .object({
    members: z.array(ToolName),
    /** `model` (not the same capability), `build` (no version passed its own tests), `review`. */
    stage: z.enum(["model", "build", "review", "commit"]),
    reason: z.string().max(4000),
  })
  .strict();
export type RejectedMerge = z.infer<typeof RejectedMergeSchema>;

export const EvolverReportSchema = z
  .object({
    barrierId: BarrierId,
    /** Snapshot the barrier started from. */
    baseSnapshot: z.number().int().min(0),
    /** Snapshot committed by this barrier (absent when nothing changed). */
    snapshot: z.number().int().min(0).optional(),
    /** Tools considered: new since the last barrier (offered + newly admitted) and the library. */
    candidates: z.number().int().min(0),
    newTools: z.number().int().min(0),
    /** Groups the lexical (or embedding) pre-clustering proposed to the model. */
    groupsFound: z.number().int().min(0),
    merged: z.array(
      z
        .object({
          name: ToolName,
          hash: ContentHash,
          members: z.array(ToolName),
          testsPassed: z.number().int().min(0),
          replaysPassed: z.number().int().min(0),
        })
        .strict(),
    ),
    rejected: z.array(RejectedMergeSchema),
    /** Offered versions whose name had left the library; added as they were. */
    added: z.array(ToolName),
    librarySize: z.number().int().min(0),
    tokens: z.number().int().min(0),
    costUsd: z.number().min(0),
    /** Tokens the barrier's model calls were allowed (EVOLVER_BARRIER_TOKENS; ADR 0091). */
    budgetTokens: z.number().int().min(0).optional(),
    /** True when the barrier's token budget ran out: what was left unjudged stays as it is. */
    budgetExhausted: z.boolean().optional(),
    /** ISO-8601. */
    startedAt: z.string().max(40),
    finishedAt: z.string().max(40),
  })
  .strict();
export type EvolverReport = z.infer<typeof EvolverReportSchema>;

export const EvolverWork = defineWorkQueue({
  stream: "evolver-work",
  subject: "evolver.work",
  version: 1,
  description:
    "Run one barrier's absorb (enqueue with message id = barrierId: a repeated enqueue runs once; a killed evolver's item is redelivered and its report lands in KV `evolver` under report.<barrierId>).",
  schema: z
    .object({
      barrierId: BarrierId,
      reason: z.string().max(2000).optional(),
    })
    .strict(),
});

export const EvolverEvents = defineEvent({
  subject: "evolver.events",
  stream: "evolver-events",
  type: "evolver.barrier-end",
  version: 1,
  description: "One barrier's absorb report (groups found, merged, rejected with reasons, tokens, cost).",
  schema: EvolverReportSchema,
});
