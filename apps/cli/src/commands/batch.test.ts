import { describe, expect, it } from "vitest";
import { progressLine } from "./batch.js";

describe("insitu batch progress", () => {
  it("draws a progress line with an ETA once something finished", () => {
    expect(progressLine({ batch: 1, batches: 3, done: 0, total: 24, phase: "tasks" })).toBe(
      `batch 1/3 ${"░".repeat(24)} 0/24 ETA --`,
    );
    expect(progressLine({ batch: 2, batches: 3, done: 12, total: 24, phase: "barrier", etaMs: 83_000 })).toBe(
      `batch 2/3 ${"█".repeat(12)}${"░".repeat(12)} 12/24 ETA 1m23s (absorbing)`,
    );
  });
});
