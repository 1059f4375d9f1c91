import type { ExecutorRunWork, Payload, TaskEvent } from "@insitu/contracts";
import { createScriptedModel } from "@insitu/llm/testing";
import type { ToolManifest, ToolOutcome } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { classifyOutcome, isRejectedInput } from "./classify.js";
import { type ReactDeps, runReact } from "./react.js";

// ADR 0057: a tool's answer in its declared error shape for an input it cannot serve is a
// successful call; a repair that yields the same content hash is not a new version.
const roman: ToolManifest = {
  name: "convert_roman_numeral",
  description: "Converts integers 1..3999 to Roman numerals.",
  inputSchema: { type: "object", properties: { value: { type: "integer" } }, required: ["value"] },
  outputSchema: { type: "object", properties: { roman: { type: "string" }, error: { type: "string" } } },
  permissions: { network: [], secrets: [] },
};
const ok = (output: unknown): ToolOutcome => ({ status: "ok", output, durationMs: 3 });

describe("rejected input", () => {
  it("is the declared error shape with a message about the input", () => {
    expect(classifyOutcome(ok({ error: "0 cannot be written in Roman numerals" }), roman)).toBe(
      "rejected-input",
    );
    expect(classifyOutcome(ok({ error: "value must be between 1 and 3999" }), roman)).toBe("rejected-input");
    expect(classifyOutcome(ok({ roman: "", error: "unsupported value: -5" }), roman)).toBe("rejected-input");
    // A crash reported as text, an empty answer, and the remote side stay what they were.
    expect(classifyOutcome(ok({ error: "TypeError: Cannot read properties of undefined" }), roman)).toBe(
      "execution-failure",
    );
    expect(classifyOutcome(ok({ error: "something went wrong" }), roman)).toBe("execution-failure");
    expect(classifyOutcome(ok({}), roman)).toBe("execution-failure");
    expect(classifyOutcome(ok({ roman: "XIV" }), roman)).toBe("success");
    // Without a declared `error` field the shape is not the tool's own: not a rejection.
    const undeclared = {
      ...roman,
      outputSchema: { type: "object", properties: { roman: { type: "string" } } },
    };
    expect(isRejectedInput({ error: "0 cannot be written in Roman numerals" }, undeclared)).toBe(false);
  });

  const work: Payload<typeof ExecutorRunWork> = {
    taskId: "t1",
    round: 1,
    step: "r1.execute",
    question: "Write 0 and 14 in Roman numerals.",
    tools: [{ name: "convert_roman_numeral", version: "sha256:v1" }],
    guidance: "Call convert_roman_numeral.",
    maxSteps: 4,
  };

  /** FAKE tool ports: outcomes from a function, repairs answered by `repairVersion`. */
  function ports(run: (input: { value: number }) => ToolOutcome, repairVersion = "sha256:v2") {
    const events: TaskEvent[] = [];
    const repairs: unknown[] = [];
    const usage: { outcome: string }[] = [];
    const deps = (model: ReactDeps["model"]): ReactDeps => ({
      model,
      summarizer: model,
      async getTool() {
        return { manifest: roman, version: "v", codeHash: "", grantedSecrets: [] };
      },
      async exec(_source, input) {
        return run(input as { value: number });
      },
      async recordUsage(record) {
        usage.push(record);
      },
      async repair(request) {
        repairs.push(request);
        return {
          ok: true,
          version: repairVersion,
          attempts: 1,
          usage: { inputTokens: 1, outputTokens: 1, costUsd: 0, toolCalls: 0 },
        };
      },
      async emit(event) {
        events.push(event);
      },
      costOf: () => 0,
      now: () => new Date(),
      limits: { contextTokens: 100_000, maxToolOutputChars: 4000, maxRepairsPerTool: 2 },
    });
    return { deps, events, repairs, usage };
  }

  it("is shown to the model as the tool's answer, counted a success and never repaired", async () => {
    // FAKE: scripted model.
    const model = createScriptedModel([
      {
        toolCalls: [
          { name: "convert_roman_numeral", arguments: { value: 0 } },
          { name: "convert_roman_numeral", arguments: { value: 14 } },
        ],
      },
      { text: "## Final Conclusion\n0 has no Roman numeral; 14 = XIV" },
    ]);
    const p = ports(({ value }) =>
      value === 0 ? ok({ error: "0 cannot be written in Roman numerals" }) : ok({ roman: "XIV" }),
    );
    const result = await runReact(work, p.deps(model));
    expect(p.repairs).toEqual([]);
    expect(result.repaired).toEqual([]);
    expect(result.toolCalls.map((call) => call.outcome)).toEqual(["rejected-input", "success"]);
    expect(p.usage.map((record) => record.outcome)).toEqual(["rejected-input", "success"]);
    expect(result.succeeded).toEqual(["convert_roman_numeral"]);
    expect(model.calls[1]?.messages.at(-1)).toMatchObject({
      role: "tool",
      results: [
        { output: { error: "0 cannot be written in Roman numerals" }, isError: false },
        { output: { roman: "XIV" }, isError: false },
      ],
    });
  });

  it("a repair that returns the same content hash is not a new version, announced or replayed", async () => {
    const model = createScriptedModel([
      { toolCalls: [{ name: "convert_roman_numeral", arguments: { value: 5 } }] },
      { text: "## Final Conclusion\nunknown" },
    ]);
    // The tool crashes; the repair answers with the version the executor already holds.
    const p = ports(() => ({ status: "CRASH", message: "boom", durationMs: 1 }), "sha256:v1");
    const result = await runReact(work, p.deps(model));
    expect(p.repairs).toHaveLength(1);
    expect(result.repaired).toEqual([]);
    const end = p.events.find((event) => event.kind === "tool-repair-end");
    expect(end).toMatchObject({ ok: false, reason: expect.stringMatching(/same version/) });
    expect(end && "version" in end ? end.version : undefined).toBeUndefined();
    expect(JSON.stringify(model.calls[1]?.messages)).not.toMatch(/was repaired/);
    expect(JSON.stringify(model.calls[1]?.messages)).toMatch(/could not be improved/);
  });
});
