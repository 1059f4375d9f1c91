import { createScriptedModel } from "@insitu/llm/testing";
import { describe, expect, it } from "vitest";
import { planRound, toolRequestProblems } from "./planner.js";

const request = (name: string, properties: Record<string, unknown> = { text: { type: "string" } }) => ({
  name,
  description: "does a thing",
  input_schema: { type: "object", properties },
  output_schema: { type: "object", properties: { result: { type: "string" } } },
});

describe("toolRequestProblems", () => {
  it("accepts an atomic verb_target request", () => {
    expect(toolRequestProblems(request("count_characters"), new Set())).toEqual([]);
  });
  it("refuses arbitrary code runners", () => {
    expect(toolRequestProblems(request("run_python_code"), new Set()).join()).toMatch(/arbitrary code/);
    expect(toolRequestProblems(request("execute_shell_command"), new Set()).join()).toMatch(/arbitrary code/);
    expect(toolRequestProblems(request("evaluate_math_expression"), new Set())).toEqual([]);
  });
  it("refuses more than 5 parameters", () => {
    const six = Object.fromEntries(["a", "b", "c", "d", "e", "f"].map((key) => [key, { type: "string" }]));
    expect(toolRequestProblems(request("fetch_rows", six), new Set()).join()).toMatch(
      /6 input parameters; at most 5/,
    );
  });
  it("refuses a name a candidate already has", () => {
    expect(toolRequestProblems(request("search_web"), new Set(["search_web"])).join()).toMatch(/select it/);
  });
});

describe("planRound", () => {
  it("feeds protocol violations back to the model and returns the corrected plan", async () => {
    // FAKE: a scripted model; first answer breaks the protocol, second complies.
    const model = createScriptedModel([
      {
        json: {
          required_tool_names: ["not_a_candidate"],
          tool_usage_guidance: "go",
          tool_requests: [request("run_python_code")],
        },
      },
      {
        json: {
          required_tool_names: ["search_web"],
          tool_usage_guidance: "search first",
          tool_requests: [request("fetch_url_text")],
        },
      },
    ]);
    const { plan, usage } = await planRound(model, {
      taskId: "t1",
      question: "q",
      round: 1,
      maxRounds: 3,
      candidates: [
        {
          name: "search_web",
          version: "sha256:1",
          description: "search",
          inputSchema: { type: "object", properties: {} },
        },
      ],
      capabilityRequests: [],
    });
    expect(plan.required_tool_names).toEqual(["search_web"]);
    expect(plan.tool_requests.map((item) => item.name)).toEqual(["fetch_url_text"]);
    expect(model.calls).toHaveLength(2);
    const feedback = model.calls[1]?.messages.at(-1);
    expect(feedback?.role).toBe("user");
    expect(JSON.stringify(feedback)).toMatch(/not_a_candidate is not one of the candidate tools/);
    expect(JSON.stringify(feedback)).toMatch(/arbitrary code/);
    expect(usage.inputTokens).toBeGreaterThan(0);
    // The provider gets a schema without keywords its subset rejects.
    expect(JSON.stringify(model.calls[0]?.responseSchema)).not.toContain("propertyNames");
    expect(model.calls[0]?.responseSchema).toMatchObject({
      required: ["required_tool_names", "tool_usage_guidance", "tool_requests"],
    });
  });
});

describe("planRound with a model that returns garbage", () => {
  it("feeds the parse errors back a bounded number of times, then fails with a typed, permanent error", async () => {
    // FAKE: a scripted model that never answers with JSON.
    const model = createScriptedModel(() => ({ text: "Sure! I think we should search the web. {oops" }));
    const error = await planRound(model, {
      taskId: "t1",
      question: "q",
      round: 1,
      maxRounds: 3,
      candidates: [],
      capabilityRequests: [],
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "LLM_INVALID_OUTPUT", retryable: false });
    expect(model.calls.length).toBeGreaterThan(1);
    expect(model.calls.length).toBeLessThanOrEqual(5);
    expect(JSON.stringify(model.calls[1]?.messages.at(-1))).toMatch(/JSON/i);
  });
});
