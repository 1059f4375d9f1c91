import {
  type IntegrationResult,
  IntegrationResultSchema,
  type IntegratorRunWork,
  type Payload,
} from "@insitu/contracts";
import { type LanguageModel, type Usage, usageOfError, withCallLimits } from "@insitu/llm";
import { InsituError } from "@insitu/errors";
import type { Logger } from "@insitu/telemetry";
import { integrate } from "./integrate.js";

export type { StepStore } from "@insitu/roles";
import type { StepStore, WorkHooks } from "@insitu/roles";

export interface IntegratorDeps {
  model: LanguageModel;
  steps: StepStore;
  notifyManager(taskId: string, step: string): Promise<void>;
  costOf(usage: Usage): number;
  logger: Logger;
}

export function createIntegrator(deps: IntegratorDeps) {
  /** One `integrator.run` message. Idempotent: a stored answer is only re-announced. */
  async function handleRun(
    work: Payload<typeof IntegratorRunWork>,
    hooks: Partial<WorkHooks> = {},
  ): Promise<IntegrationResult> {
    const stored = IntegrationResultSchema.safeParse(await deps.steps.get(work.taskId, work.step));
    if (stored.success) {
      await deps.notifyManager(work.taskId, work.step);
      return stored.data;
    }
    let result: IntegrationResult;
    try {
      const model = withCallLimits(deps.model, {
        taskId: work.taskId,
        ...(work.maxTokens !== undefined ? { maxTokens: work.maxTokens } : {}),
        ...(work.deadline ? { deadline: Date.parse(work.deadline) } : {}),
      });
      const { answer, usage } = await integrate(model, {
        taskId: work.taskId,
        question: work.question,
        report: work.report,
        signal: hooks.signal,
      });
      result = {
        answer,
        usage: {
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          costUsd: deps.costOf(usage),
          toolCalls: 0,
        },
      };
    } catch (error) {
      const failure = InsituError.from(error);
      if (failure.retryable && !hooks.lastDelivery) throw failure;
      deps.logger.error("integration failed for good; answering from the report", {
        taskId: work.taskId,
        error: failure,
      });
      // The failed attempts were served and billed: they are the task's (ADR 0060).
      const spent = usageOfError(failure);
      result = {
        answer: fallbackAnswer(work.report, failure),
        usage: {
          inputTokens: spent?.inputTokens ?? 0,
          outputTokens: spent?.outputTokens ?? 0,
          costUsd: spent ? deps.costOf(spent) : 0,
          toolCalls: 0,
        },
      };
    }
    await deps.steps.put(work.taskId, work.step, result);
    await deps.notifyManager(work.taskId, work.step);
    deps.logger.info("answer written", { taskId: work.taskId });
    return result;
  }
  return { handleRun };
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
