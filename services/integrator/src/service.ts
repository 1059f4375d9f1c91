import {
  type IntegrationResult,
  IntegrationResultSchema,
  type IntegratorRunWork,
  type Payload,
} from "@insitu/contracts";
import type { LanguageModel, Usage } from "@insitu/llm";
import type { Logger } from "@insitu/telemetry";
import { integrate } from "./integrate.js";

export interface StepStore {
  get(taskId: string, step: string): Promise<unknown | undefined>;
  put(taskId: string, step: string, value: unknown): Promise<void>;
}

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
    hooks: { signal?: AbortSignal } = {},
  ): Promise<IntegrationResult> {
    const stored = IntegrationResultSchema.safeParse(await deps.steps.get(work.taskId, work.step));
    if (stored.success) {
      await deps.notifyManager(work.taskId, work.step);
      return stored.data;
    }
    const { answer, usage } = await integrate(deps.model, {
      taskId: work.taskId,
      question: work.question,
      report: work.report,
      signal: hooks.signal,
    });
    const result: IntegrationResult = {
      answer,
      usage: {
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        costUsd: deps.costOf(usage),
        toolCalls: 0,
      },
    };
    await deps.steps.put(work.taskId, work.step, result);
    await deps.notifyManager(work.taskId, work.step);
    deps.logger.info("answer written", { taskId: work.taskId });
    return result;
  }
  return { handleRun };
}
