import { type IntegrationResult, IntegrationResultSchema, IntegratorRunWork } from "@insitu/contracts";
import type { InsituError } from "@insitu/errors";
import { type LanguageModel, type Usage, withCallLimits } from "@insitu/llm";
import { defineRoleStep, taskUsage, usageOfFailure } from "@insitu/roles";
import { integrate } from "./integrate.js";

export interface IntegratorDeps {
  model: LanguageModel;
  costOf(usage: Usage): number;
}

/**
 * The integrator's step: one `integrator.run` message writes the task's answer. Idempotent: a
 * stored answer is only re-announced (the step kit, docs/adr/0155).
 */
export function createIntegrator(deps: IntegratorDeps) {
  return defineRoleStep({
    work: IntegratorRunWork,
    result: IntegrationResultSchema,
    kind: "integration-done",
    async run(work, { signal }): Promise<IntegrationResult> {
      const model = withCallLimits(deps.model, {
        taskId: work.taskId,
        ...(work.maxTokens !== undefined ? { maxTokens: work.maxTokens } : {}),
        ...(work.deadline ? { deadline: Date.parse(work.deadline) } : {}),
      });
      const { answer, usage } = await integrate(model, {
        taskId: work.taskId,
        question: work.question,
        report: work.report,
        signal,
      });
      return { answer, usage: taskUsage(usage, deps.costOf) };
    },
    // The failed attempts were served and billed: they are the task's (ADR 0060).
    onFailure: (work, failure) => ({
      answer: fallbackAnswer(work.report, failure),
      usage: usageOfFailure(failure, deps.costOf),
    }),
    describe: {
      replayed: "answer already written; re-announcing it",
      failed: "integration failed for good; answering from the report",
      done: "answer written",
    },
  });
}

/** When the model cannot write the answer: the executor's conclusion, said plainly. */
export function fallbackAnswer(
  report: string,
  error: InsituError,
): { final_answer: string; reasoning_summary: string } {
  const match = /#+\s*Final Conclusion\s*\n([\s\S]*?)(\n#+\s|$)/i.exec(report);
  const conclusion = (match?.[1] ?? report.split(/\n\s*\n/).at(-1) ?? "").trim();
  return {
    final_answer: conclusion.slice(0, 4000) || "Not found",
    reasoning_summary: `The integrator model failed (${error.code}); this is the executor's own conclusion, unformatted.`,
  };
}
