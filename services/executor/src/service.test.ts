import { createScriptedModel } from "@insitu/llm/testing";
import { memoryStepPorts } from "@insitu/roles/testing";
import { describe, expect, it } from "vitest";
import { type ExecutorDeps, createExecutor } from "./service.js";

const work = {
  taskId: "t1",
  round: 1,
  step: "r1.execute",
  question: "q",
  tools: [{ name: "count_words", version: "sha256:v1" }],
  guidance: "g",
  maxSteps: 3,
};

/** FAKE ports for unit tests (in-memory step ports: `log` records the order of effects). */
function fakes(overrides: Partial<ExecutorDeps> = {}) {
  const deps: ExecutorDeps = {
    model: createScriptedModel(["## Final Conclusion\nfour"]),
    summarizer: createScriptedModel([]),
    getTool: async (ref) => ({
      manifest: {
        name: ref.name,
        description: "Counts words.",
        inputSchema: { type: "object", properties: {} },
        outputSchema: { type: "object" },
        permissions: { network: [], secrets: [] },
      },
      version: ref.version,
      codeHash: "",
      grantedSecrets: [],
    }),
    exec: async () => ({ status: "ok", output: { count: 1 }, durationMs: 1 }),
    recordUsage: async () => undefined,
    repair: async () => ({
      ok: false,
      attempts: 0,
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 0 },
    }),
    costOf: () => 0,
    limits: { contextTokens: 100_000, maxToolOutputChars: 4000, maxRepairsPerTool: 1 },
    ...overrides,
  };
  const memory = memoryStepPorts();
  return { handleRun: createExecutor(deps).handler(memory.ports), log: memory.log };
}

describe("executor service", () => {
  it("stores the round before telling the manager, and a redelivery only re-announces it", async () => {
    const f = fakes();
    const first = await f.handleRun(work);
    expect(first.conclusion).toBe("four");
    const again = await f.handleRun(work);
    expect(again).toEqual(first);
    expect(f.log).toEqual(["put r1.execute", "notify r1.execute", "notify r1.execute"]);
  });

  it("reports a round that cannot run as a failed round the manager can re-plan on", async () => {
    const f = fakes({
      getTool: async () => {
        throw new Error("registry lost the version");
      },
    });
    const result = await f.handleRun(work);
    expect(result.conclusion).toMatch(
      /Not found: the executor failed \(INTERNAL: registry lost the version\)/,
    );
    expect(f.log).toEqual(["put r1.execute", "notify r1.execute"]);
  });
});
