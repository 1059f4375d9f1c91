// A task's end: what its pool becomes, and how a call's sandbox status counts as usage.
// Part of the registry domain's contracts (see ./records.ts); served by `services/registry`.
import type { OutcomeStatusSchema } from "@insitu/tool-kit";
import { z } from "zod";
import { defineEndpoint } from "../define.js";
import { ContentHash, TaskId, ToolName } from "../envelope.js";
import type { ToolCallOutcome } from "../task.js";
import { SnapshotInfoSchema } from "./records.js";

export const RegistryFinishTask = defineEndpoint({
  service: "registry",
  name: "finish-task",
  subject: "registry.finish-task",
  version: 1,
  description:
    "Closes a task's pool: versions that never succeeded are dropped (kept for history, never served); for each name the newest version that succeeded is kept. With mode `absorb` (default) kept versions whose name is new to the library, or that descend from the library's version, are committed as one snapshot; the others are `offered` (for the evolver to merge). With mode `offer` all kept versions are offered. Idempotent.",
  request: z
    .object({
      taskId: TaskId,
      /** Default `absorb`. */
      mode: z.enum(["absorb", "offer"]).optional(),
    })
    .strict(),
  response: z
    .object({
      taskId: TaskId,
      dropped: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      absorbed: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      offered: z.array(z.object({ name: ToolName, hash: ContentHash }).strict()),
      /** The snapshot committed for the absorbed versions, when any were. */
      snapshot: SnapshotInfoSchema.optional(),
    })
    .strict(),
});

/** Maps a sandbox outcome status to the usage outcome the registry records. */
export function usageOutcomeOf(status: z.infer<typeof OutcomeStatusSchema>): ToolCallOutcome {
  switch (status) {
    case "ok":
      return "success";
    case "INVALID_INPUT":
      return "input-error";
    case "INVALID_OUTPUT":
    case "OUTPUT_LIMIT":
      return "output-error";
    case "TIMEOUT":
      return "timeout";
    case "PERMISSION_DENIED":
      return "denied";
    case "MEMORY_LIMIT":
    case "CRASH":
      return "execution-failure";
  }
}
