import { createScriptedModel } from "@insitu/llm/testing";
import { createLogger } from "@insitu/telemetry";
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

/** FAKE ports for unit tests; `log` records the order of effects. */
function fakes(overrides: Partial<ExecutorDeps> = {}) {
  const steps = new Map<string, unknown>();
  const log: string[] = [];
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
    emit: async () => undefined,
    costOf: () => 0,
    now: () => new Date(),
    limits: { contextTokens: 100_000, maxToolOutputChars: 4000, maxRepairsPerTool: 1 },
    steps: {
      get: async (taskId, step) => steps.get(`${taskId}.${step}`),
      put: async (taskId, step, value) => {
        log.push("put");
        steps.set(`${taskId}.${step}`, value);
      },
    },
    notifyManager: async () => {
      log.push("notify");
    },
    logger: createLogger({ service: "test", level: "error" }),
    ...overrides,
  };
  return { executor: createExecutor(deps), log, steps };
}

describe("executor service", () => {
  it("stores the round before telling the manager, and a redelivery only re-announces it", async () => {
    const f = fakes();
    const first = await f.executor.handleRun(work);
    expect(first.conclusion).toBe("four");
    const again = await f.executor.handleRun(work);
    expect(again).toEqual(first);
    expect(f.log).toEqual(["put", "notify", "notify"]);
  });

  it("reports a round that cannot run as a failed round the manager can re-plan on", async () => {
    const f = fakes({
      getTool: async () => {
        throw new Error("registry lost the version");
      },
    });
    const result = await f.executor.handleRun(work);
    expect(result.conclusion).toMatch(
      /Not found: the executor failed \(INTERNAL: registry lost the version\)/,
    );
    expect(f.log).toEqual(["put", "notify"]);
  });
});
