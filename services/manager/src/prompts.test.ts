import { describe, expect, it } from "vitest";
import { renderJudgePrompt } from "./judge.js";
import { renderPlanPrompt } from "./planner.js";
import { loadPrompt } from "./template.js";

describe("manager prompts", () => {
  const plan = loadPrompt("plan");

  it("the plan prompt is at least as substantial as the original's (about 13 KB of rules and examples)", () => {
    expect(plan.length).toBeGreaterThan(13_000);
  });

  it.each([
    ["reuse first", /Reuse first/],
    ["atomic decomposition", /Decompose into atomic tools/],
    [
      "new tools only for external resources, files or precise computation",
      /external resource[\s\S]*file[\s\S]*precise/i,
    ],
    ["no tools for plain reasoning", /plain reasoning[\s\S]*do not create tools/i],
    ["verb_target names", /verb_target/],
    ["topic-agnostic", /Topic-agnostic/i],
    ["at most 5 parameters", /At most 5 input parameters/],
    ["no arbitrary code execution", /No arbitrary code execution/i],
    ["LLM-friendly outputs", /LLM-friendly output/],
    ["the sandbox and declared hosts", /declare/],
    ["failure report handling", /Respect the failure report/],
    ["build failures are not re-requested unchanged", /failed to build[\s\S]*do not request the same tool/i],
    ["capability requests", /capability requests/i],
    ["retrieval is top-k, not the whole library", /_not_ the whole library/],
    ["retrieval rank is not fitness", /not by\s+whether they fit/],
    ["separate search, fetch and download", /Keep search, fetch and download as separate tools/],
    ["the JSON keys", /required_tool_names[\s\S]*tool_usage_guidance[\s\S]*tool_requests/],
  ])("the plan prompt states: %s", (_name, pattern) => {
    expect(plan).toMatch(pattern);
  });

  it("the plan prompt has worked examples with valid JSON plans", () => {
    const blocks = [...plan.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");
    const plans = blocks
      .map((block) => JSON.parse(block) as Record<string, unknown>)
      .filter((value) => "tool_requests" in value);
    expect(plans.length).toBeGreaterThanOrEqual(3);
  });

  it("renders every placeholder", () => {
    const text = renderPlanPrompt({
      taskId: "t1",
      question: "What is 2+2?",
      round: 2,
      maxRounds: 5,
      candidates: [
        {
          name: "evaluate_math_expression",
          version: "sha256:x",
          description: "Evaluates arithmetic.",
          source: "library",
          usage: { calls: 40, successRate: 0.975 },
          inputSchema: {
            type: "object",
            properties: { expression: { type: "string", description: "the expression" } },
            required: ["expression"],
          },
        },
      ],
      failureReport: "round 1: tool X failed",
      capabilityRequests: ["read PDFs"],
      findings: "found 4",
    });
    expect(text).not.toMatch(/\{\{\w+\}\}/);
    expect(text).toContain("expression (string, required) — the expression");
    expect(text).toContain("1. evaluate_math_expression (40 calls, 98% succeeded)");
    expect(text).toContain("round 1: tool X failed");
    expect(text).toContain("- read PDFs");
    expect(text).toContain("2 of 5");
  });

  it("the judge prompt restricts RETRY to not-found, blocking failure, no conclusion, missing capability", () => {
    const judge = loadPrompt("judge");
    expect(judge).toMatch(/Not found/);
    expect(judge).toMatch(/Blocking tool failure/);
    expect(judge).toMatch(/No conclusion/);
    expect(judge).toMatch(/Missing capability/);
    expect(judge).toMatch(/Do not ask for a RETRY to "double-check"/);
    const text = renderJudgePrompt({
      taskId: "t",
      question: "q",
      round: 1,
      maxRounds: 3,
      tools: ["a_b"],
      toolCalls: [{ tool: "a_b", outcome: "success" }],
      report: "## Final Conclusion\n4",
    });
    expect(text).not.toMatch(/\{\{\w+\}\}/);
    expect(text).toContain("1. a_b: success");
  });
});
