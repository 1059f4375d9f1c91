import { InsituError } from "@insitu/errors";
import { createScriptedModel } from "@insitu/llm/testing";
import { memoryStepPorts } from "@insitu/roles/testing";
import { describe, expect, it } from "vitest";
import { renderAnswerPrompt } from "./integrate.js";
import { createIntegrator, fallbackAnswer } from "./service.js";
import { loadPrompt } from "./template.js";

const REPORT =
  "## Reasoning & Plan\nx\n\n## Key Findings & Evidence\n- y\n\n## Final Conclusion\nEarth (12,742 km)";

describe("integrator", () => {
  it("the answer prompt pins exact-format extraction", () => {
    const prompt = loadPrompt("answer");
    for (const pattern of [
      /in the form it was asked/,
      /Scale matters/,
      /`final_answer` is only the answer/,
      /Never invent a value/,
      /"Not found"/,
      /reasoning_summary/,
      /language of the question/,
    ]) {
      expect(prompt).toMatch(pattern);
    }
    expect(renderAnswerPrompt("Which planet?", REPORT)).toContain("Earth (12,742 km)");
  });

  it("writes the answer once, stores it before telling the manager, and is idempotent", async () => {
    // FAKE: scripted model and in-memory step ports.
    const model = createScriptedModel([
      { json: { final_answer: "Earth", reasoning_summary: "Compared diameters." } },
    ]);
    const memory = memoryStepPorts();
    const handleRun = createIntegrator({ model, costOf: () => 0 }).handler(memory.ports);
    const work = { taskId: "t1", step: "integrate", question: "Which planet is larger?", report: REPORT };
    const first = await handleRun(work);
    expect(first.answer).toEqual({ final_answer: "Earth", reasoning_summary: "Compared diameters." });
    const again = await handleRun(work);
    expect(again).toEqual(first);
    expect(model.calls).toHaveLength(1);
    expect(memory.log).toEqual(["put integrate", "notify integrate", "notify integrate"]);
  });

  it("falls back to the executor's conclusion when the model fails for good", () => {
    const answer = fallbackAnswer(REPORT, new InsituError("bad", { code: "LLM_INVALID_OUTPUT" }));
    expect(answer.final_answer).toBe("Earth (12,742 km)");
    expect(answer.reasoning_summary).toMatch(/LLM_INVALID_OUTPUT/);
  });
});
