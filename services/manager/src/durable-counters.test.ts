import { describe, expect, it } from "vitest";
import { endedTaskCounts } from "./durable-counters.js";
import type { ManagerState } from "./state.js";

// FAKE store: a list of states, as the KV-backed one returns them.
const state = (status: string) => ({ record: { status } }) as unknown as ManagerState;

describe("endedTaskCounts", () => {
  it("counts ended tasks by final status and leaves running ones out", async () => {
    const counts = await endedTaskCounts({
      list: async () => [
        state("succeeded"),
        state("succeeded"),
        state("failed"),
        state("executing"),
        state("queued"),
      ],
    });
    expect(Object.fromEntries(counts)).toEqual({ succeeded: 2, failed: 1 });
  });
});
