import {
  ExecutionResultSchema,
  IntegrationResultSchema,
  JudgeStepResultSchema,
  type ManagerWork,
  type Payload,
  PlanStepResultSchema,
  ToolBuildResultSchema,
} from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import type { CallLimits, Usage } from "@insitu/llm";
import type { z } from "zod";
import type { JudgeInput, Verdict } from "./judge.js";
import type { Plan, PlanCatalog, PlanInput, ToolCandidate } from "./planner.js";
import type { ManagerEvent } from "./transition.js";

export { findingsOf } from "./transition.js";

/** What the Manager asks the catalog for: the task and what its neighbourhood is retrieved with. */
export interface CatalogRequest {
  taskId: string;
  query: string;
  capabilities?: string[];
  /** Names the prompt already shows in detail (the candidates). */
  exclude?: string[];
}

/** What the Manager's steps need from the outside world; plain functions so tests pass fakes. */
export interface MachineDeps {
  /** `limits`: the task's deadline and remaining tokens; every request of the call stays inside them. */
  plan(input: PlanInput, limits?: CallLimits): Promise<{ plan: Plan; usage: Usage }>;
  judge(input: JudgeInput, limits?: CallLimits): Promise<{ verdict: Verdict; usage: Usage }>;
  /**
   * Registry retrieval (top-k, the task's private pool included); each of `capabilities` adds its
   * own best hits.
   */
  search(input: { query: string; taskId: string; capabilities?: string[] }): Promise<ToolCandidate[]>;
  /**
   * The compact catalog of the whole library for the plan prompt (absent: none shown). Given the
   * round's question and capabilities, its first lines are the tools most related to them; the
   * candidates already shown in detail are excluded from that part (ADR 0106).
   */
  catalog?(input: CatalogRequest): Promise<PlanCatalog | undefined>;
  /** Told how many requested builds a library tool made unnecessary (a metric). */
  onBuildsAvoided?(count: number): void;
  /** A stored step result, or undefined when it is not there (yet). */
  readStep<T>(taskId: string, step: string, schema: z.ZodType<T>): Promise<T | undefined>;
  /** Cost in USD of a model call's usage (0 when prices are not configured). */
  costOf(usage: Usage): number;
  now(): Date;
}

const resultSchemas = {
  "build-done": ToolBuildResultSchema,
  "execution-done": ExecutionResultSchema,
  "integration-done": IntegrationResultSchema,
  "plan-done": PlanStepResultSchema,
  "judge-done": JudgeStepResultSchema,
} as const;

/**
 * The state machine's input for one `manager.work` message: the start, or the stored result of
 * the step it names. Read once, before the compare-and-set loop (a stored result never changes).
 */
export async function eventOf(
  work: Payload<typeof ManagerWork>,
  readStep: MachineDeps["readStep"],
): Promise<ManagerEvent> {
  if (work.kind === "start") return { kind: "start", step: work.step };
  const schema: z.ZodType<unknown> = resultSchemas[work.kind];
  const result = await readStep(work.taskId, work.step, schema);
  if (result === undefined) {
    // The step stores its result before it enqueues us, so this is a lagging read: retry later.
    throw new InsituError(`step result ${work.step} is not stored yet`, {
      code: "STEP_RESULT_MISSING",
      retryable: true,
      details: { taskId: work.taskId, step: work.step },
    });
  }
  return { kind: work.kind, step: work.step, result } as ManagerEvent;
}
