import type { ExecutorRunWork, Payload, TaskEvent } from "@insitu/contracts";
import { createScriptedModel } from "@insitu/llm/testing";
import type { ToolManifest, ToolOutcome } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { classifyOutcome } from "./classify.js";
import { type ReactDeps, runReact, toolCallKey } from "./react.js";
import { capabilityRequestOf, conclusionOf } from "./report.js";
import { loadPrompt } from "./template.js";

const manifest = (name: string): ToolManifest => ({
  name,
  description: `${name} does its one thing.`,
  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  outputSchema: { type: "object" },
  permissions: { network: [], secrets: [] },
});

const work = (overrides: Partial<Payload<typeof ExecutorRunWork>> = {}): Payload<typeof ExecutorRunWork> => ({
  taskId: "t1",
  round: 1,
  step: "r1.execute",
  question: "How many words are in 'a b c'?",
  tools: [{ name: "count_words", version: "sha256:v1" }],
  guidance: "Call count_words.",
  maxSteps: 4,
  ...overrides,
});

const REPORT =
  "## Reasoning & Plan\nCount.\n\n## Key Findings & Evidence\n- count_words → 3\n\n## Final Conclusion\n3";

/** FAKE tool ports for unit tests: outcomes from a function, everything recorded. */
function ports(run: (version: string, input: unknown) => ToolOutcome, overrides: Partial<ReactDeps> = {}) {
  const usage: unknown[] = [];
  const events: TaskEvent[] = [];
  const repairs: unknown[] = [];
  const deps = (model: ReactDeps["model"]): ReactDeps => ({
    model,
    summarizer: model,
    async getTool(ref) {
      return { manifest: manifest(ref.name), version: ref.version, codeHash: "", grantedSecrets: [] };
    },
    async exec(source, input) {
      return run(source.version, input);
    },
    async recordUsage(record) {
      usage.push(record);
    },
    async repair(request) {
      repairs.push(request);
      return {
        ok: true,
        version: "sha256:v2",
        attempts: 1,
        usage: { inputTokens: 7, outputTokens: 3, costUsd: 0, toolCalls: 0 },
      };
    },
    async emit(event) {
      events.push(event);
    },
    costOf: () => 0,
    now: () => new Date(),
    limits: { contextTokens: 100_000, maxToolOutputChars: 4000, maxRepairsPerTool: 2 },
    ...overrides,
  });
  return { deps, usage, events, repairs };
}

describe("executor prompts", () => {
  it("the worker prompt pins the report sections and the rules", () => {
    const worker = loadPrompt("worker");
    for (const pattern of [
      /## Reasoning & Plan/,
      /## Key Findings & Evidence/,
      /## Final Conclusion/,
      /never ask the user/i,
      /Use only the bound tools/,
      /request_capability/,
      /web\.archive\.org/,
      /bounded chunks/,
      /Use tools for precision/,
      /\{\{maxSteps\}\}/,
      /# Example of a good report/,
      /confidence/,
    ]) {
      expect(worker).toMatch(pattern);
    }
    expect(loadPrompt("budget")).toMatch(/## Additional Tool Requirement/);
    expect(loadPrompt("summarize")).toMatch(/Task-Relevant Key Findings/);
    expect(loadPrompt("reduce")).toMatch(/verbatim/);
  });
});

describe("runReact", () => {
  it("gives each tool call a key the sandbox can run at most once: the same call on redelivery, the same key", async () => {
    const keys: (string | undefined)[] = [];
    const round = async () => {
      // FAKE: scripted model making the same call each time the round runs (a redelivered step).
      const model = createScriptedModel([
        { toolCalls: [{ name: "count_words", arguments: { text: "a b c" } }] },
        { text: REPORT },
      ]);
      const p = ports(() => ({ status: "ok", output: { count: 3 }, durationMs: 1 }), {
        async exec(_source, _input, _taskId, callKey) {
          keys.push(callKey);
          return { status: "ok", output: { count: 3 }, durationMs: 1 };
        },
      });
      await runReact(work(), p.deps(model));
    };
    await round();
    await round();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^t1\.r1\.execute\.1\.0\.[0-9a-f]{32}$/);
    expect(keys[1]).toBe(keys[0]);
    // Another input, version or position is another call; key order inside the input is not.
    const key = toolCallKey("t1", "r1.execute.1.0", "sha256:v1", { text: "a", n: 1 });
    expect(toolCallKey("t1", "r1.execute.1.0", "sha256:v1", { n: 1, text: "a" })).toBe(key);
    expect(toolCallKey("t1", "r1.execute.1.0", "sha256:v1", { text: "b", n: 1 })).not.toBe(key);
    expect(toolCallKey("t1", "r1.execute.1.0", "sha256:v2", { text: "a", n: 1 })).not.toBe(key);
    expect(toolCallKey("t1", "r1.execute.1.1", "sha256:v1", { text: "a", n: 1 })).not.toBe(key);
    expect(toolCallKey("t".repeat(500), "s".repeat(500), "v", {}).length).toBeLessThanOrEqual(300);
  });

  it("calls the bound tool in the sandbox, records the outcome and reports", async () => {
    // FAKE: scripted model.
    const model = createScriptedModel([
      { toolCalls: [{ name: "count_words", arguments: { text: "a b c" } }] },
      { text: REPORT },
    ]);
    const p = ports(() => ({ status: "ok", output: { count: 3 }, durationMs: 12 }));
    const result = await runReact(work(), p.deps(model));
    expect(result.conclusion).toBe("3");
    expect(result.toolCalls).toEqual([
      { tool: "count_words", version: "sha256:v1", outcome: "success", durationMs: 12 },
    ]);
    expect(result.succeeded).toEqual(["count_words"]);
    expect(result.usage.toolCalls).toBe(1);
    expect(p.usage).toMatchObject([{ callId: "t1.r1.execute.1.0", outcome: "success", sandboxStatus: "ok" }]);
    expect(p.events.map((event) => event.kind)).toEqual(["tool-call-start", "tool-call-end"]);
    expect(model.calls[0]?.tools?.map((tool) => tool.name)).toEqual(["count_words", "request_capability"]);
    expect(model.calls[1]?.messages.at(-1)).toMatchObject({
      role: "tool",
      results: [{ output: { count: 3 } }],
    });
  });

  it("repairs a tool that crashed on valid input and the model uses the repaired version", async () => {
    const model = createScriptedModel([
      { toolCalls: [{ name: "count_words", arguments: { text: "" } }] },
      {
        when: { lastMessageContains: "was repaired" },
        reply: { toolCalls: [{ name: "count_words", arguments: { text: "" } }] },
      },
      { text: REPORT.replace("3", "0") },
    ]);
    const p = ports((version) =>
      version === "sha256:v1"
        ? { status: "CRASH", message: "Cannot read properties of undefined", durationMs: 4 }
        : { status: "ok", output: { count: 0 }, durationMs: 4 },
    );
    const result = await runReact(work(), p.deps(model));
    expect(p.repairs).toMatchObject([
      {
        tool: { name: "count_words", version: "sha256:v1" },
        failingCalls: [{ input: { text: "" }, outcome: "execution-failure" }],
      },
    ]);
    expect(result.repaired).toEqual([{ name: "count_words", version: "sha256:v2" }]);
    expect(result.toolCalls.map((call) => [call.version, call.outcome])).toEqual([
      ["sha256:v1", "execution-failure"],
      ["sha256:v2", "success"],
    ]);
    expect(p.events.some((event) => event.kind === "tool-repair-end" && event.ok)).toBe(true);
  });

  it("a repair gets the task's remaining tokens and deadline; stopped by the budget, its usage is charged and the round ends", async () => {
    // FAKE: scripted model (each call bills 1000 + 10 tokens) and a repair port out of budget.
    const model = createScriptedModel([
      {
        toolCalls: [{ name: "count_words", arguments: { text: "" } }],
        usage: { inputTokens: 1000, outputTokens: 10 },
      },
      { text: REPORT, usage: { inputTokens: 1000, outputTokens: 10 } },
    ]);
    const deadline = new Date(Date.now() + 60_000).toISOString();
    const p = ports(() => ({ status: "CRASH", message: "boom", durationMs: 4 }), {
      async repair(request) {
        p.repairs.push(request);
        return {
          ok: false,
          budgetExceeded: true,
          reason: "BUDGET_EXCEEDED: task t1 exceeded its tokens budget",
          attempts: 0,
          usage: { inputTokens: 9000, outputTokens: 500, costUsd: 0.25, toolCalls: 0 },
        };
      },
    });
    const result = await runReact(work({ maxTokens: 10_000, deadline }), p.deps(model));
    expect(p.repairs).toMatchObject([{ maxTokens: 10_000 - 1010, deadline }]);
    // The repair's spend is the round's; no model call after it.
    expect(result.usage).toMatchObject({ inputTokens: 10_000, outputTokens: 510 });
    expect(result.usage.costUsd).toBe(0.25);
    expect(model.calls).toHaveLength(1);
    expect(result.stepBudgetExhausted).toBe(true);
    expect(result.report).toMatch(/budget ran out during a tool repair/);
    expect(p.events.filter((event) => event.kind === "tool-repair-end")).toMatchObject([
      { ok: false, reason: expect.stringMatching(/BUDGET_EXCEEDED/) },
    ]);
  });

  it("does not repair a tool for the model's own input errors", async () => {
    const model = createScriptedModel([
      { toolCalls: [{ name: "count_words", arguments: { txt: "x" } }] },
      { text: REPORT },
    ]);
    const p = ports(() => ({
      status: "INVALID_INPUT",
      issues: [{ path: "/text", message: "is required" }],
      durationMs: 1,
    }));
    const result = await runReact(work(), p.deps(model));
    expect(p.repairs).toEqual([]);
    expect(result.toolCalls[0]?.outcome).toBe("input-error");
    expect(JSON.stringify(model.calls[1]?.messages.at(-1))).toMatch(/INVALID_INPUT: \/text is required/);
  });

  it("request_capability ends the round with the request in the result", async () => {
    const model = createScriptedModel([
      {
        toolCalls: [
          {
            name: "request_capability",
            arguments: { capability: "read PDF text", reason: "the source is a PDF", intended_use: "page 2" },
          },
        ],
      },
    ]);
    const p = ports(() => ({ status: "ok", output: {}, durationMs: 1 }));
    const result = await runReact(work(), p.deps(model));
    expect(result.capabilityRequest).toEqual({
      capability: "read PDF text",
      reason: "the source is a PDF",
      intendedUse: "page 2",
    });
    expect(result.report).toMatch(/## Additional Tool Requirement/);
    expect(model.calls).toHaveLength(1);
  });

  it("stops at the step budget and asks for the report without tools", async () => {
    const call = { toolCalls: [{ name: "count_words", arguments: { text: "a" } }] };
    const model = createScriptedModel([
      call,
      call,
      {
        when: { lastMessageContains: "budget for this round is used up" },
        reply: {
          text: `${REPORT}\n\n## Additional Tool Requirement\n- capability: count sentences\n- why: no tool\n- intended use: count`,
        },
      },
    ]);
    const p = ports(() => ({ status: "ok", output: { count: 1 }, durationMs: 1 }));
    const result = await runReact(work({ maxSteps: 2 }), p.deps(model));
    expect(result.stepBudgetExhausted).toBe(true);
    expect(result.steps).toBe(2);
    expect(model.calls[2]?.toolChoice).toBe("none");
    expect(result.capabilityRequest?.capability).toBe("count sentences");
  });

  it("reduces a large tool output before it enters the context", async () => {
    const model = createScriptedModel([
      { toolCalls: [{ name: "count_words", arguments: { text: "a" } }] },
      { when: { lastMessageContains: "Reduce a tool output" }, reply: { text: "relevant: count 1" } },
      { text: REPORT },
    ]);
    const p = ports(() => ({ status: "ok", output: { count: 1, page: "x".repeat(10_000) }, durationMs: 1 }));
    await runReact(work(), p.deps(model));
    const toolMessage = JSON.stringify(model.calls[2]?.messages.at(-1));
    expect(toolMessage).toContain("relevant: count 1");
    expect(toolMessage.length).toBeLessThan(1000);
  });

  it("summarises the history when it nears the context limit", async () => {
    const model = createScriptedModel([
      { toolCalls: [{ name: "count_words", arguments: { text: "a" } }] },
      {
        when: { lastMessageContains: "Context summary" },
        reply: { text: "Task-Relevant Key Findings: count is 1" },
      },
      { text: REPORT },
    ]);
    const p = ports(() => ({ status: "ok", output: { count: 1, note: "y".repeat(6000) }, durationMs: 1 }));
    const deps = p.deps(model);
    deps.limits = { ...deps.limits, contextTokens: 1500, maxToolOutputChars: 10_000 };
    await runReact(work(), deps);
    expect(model.calls[2]?.messages).toHaveLength(1);
    expect(JSON.stringify(model.calls[2]?.messages[0])).toContain("## Context Summary");
  });
});

describe("budgets inside a round", () => {
  it("stops when the task's remaining tokens are spent, without another model call", async () => {
    const call = {
      toolCalls: [{ name: "count_words", arguments: { text: "a" } }],
      usage: { inputTokens: 600, outputTokens: 10 },
    };
    const model = createScriptedModel([call, call, call]);
    const p = ports(() => ({ status: "ok", output: { count: 1 }, durationMs: 1 }));
    const result = await runReact(work({ maxTokens: 1000 }), p.deps(model));
    expect(model.calls).toHaveLength(2);
    expect(result.stepBudgetExhausted).toBe(true);
    expect(result.conclusion).toMatch(/Not found: the task's token budget ran out \(1220 tokens/);
  });

  it("stops at the task's deadline", async () => {
    const model = createScriptedModel([]);
    const p = ports(() => ({ status: "ok", output: {}, durationMs: 1 }));
    const result = await runReact(work({ deadline: "2020-01-01T00:00:00.000Z" }), p.deps(model));
    expect(model.calls).toHaveLength(0);
    expect(result.conclusion).toMatch(/wall-time budget ran out/);
  });
});

describe("classification and report parsing", () => {
  it("classifies outcomes like the original's reviewer", () => {
    expect(classifyOutcome({ status: "ok", output: { count: 1 }, durationMs: 1 })).toBe("success");
    expect(classifyOutcome({ status: "ok", output: {}, durationMs: 1 })).toBe("execution-failure");
    expect(
      classifyOutcome({ status: "ok", output: { error: "TypeError: x is undefined" }, durationMs: 1 }),
    ).toBe("execution-failure");
    expect(
      classifyOutcome({ status: "ok", output: { error: "HTTP 404 from example.com" }, durationMs: 1 }),
    ).toBe("success");
    expect(classifyOutcome({ status: "INVALID_INPUT", issues: [], durationMs: 1 })).toBe("input-error");
    expect(classifyOutcome({ status: "TIMEOUT", limitMs: 10, durationMs: 10 })).toBe("timeout");
    expect(classifyOutcome({ status: "CRASH", message: "x", durationMs: 1 })).toBe("execution-failure");
  });

  it("reads the conclusion and a capability requirement", () => {
    expect(conclusionOf(REPORT)).toBe("3");
    expect(conclusionOf("just text\n\nlast paragraph")).toBe("last paragraph");
    expect(capabilityRequestOf(REPORT)).toBeUndefined();
  });
});
