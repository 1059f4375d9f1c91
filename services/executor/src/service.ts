import { type ExecutionResult, ExecutionResultSchema, ExecutorRunWork } from "@insitu/contracts";
import type { InsituError } from "@insitu/errors";
import type { Usage } from "@insitu/llm";
import { defineRoleStep, usageOfFailure } from "@insitu/roles";
import { type ReactDeps, runReact } from "./react.js";

/** The executor's own ports; the step's (store, manager, events, clock, logger) are the kit's. */
export type ExecutorDeps = Omit<ReactDeps, "heartbeat" | "signal" | "emit" | "now">;

/**
 * The executor's step: one `executor.run` message runs one round. Idempotent: a stored result is
 * only re-announced (the step kit, docs/adr/0155). Transient trouble is retried by redelivery; on
 * the last delivery, or for an error that will not go away, the failed round is reported so the
 * manager can re-plan instead of waiting.
 */
export function createExecutor(deps: ExecutorDeps) {
  return defineRoleStep({
    work: ExecutorRunWork,
    result: ExecutionResultSchema,
    kind: "execution-done",
    run: (work, { heartbeat, signal, emit, now }) =>
      runReact(work, { ...deps, heartbeat, signal, emit, now }),
    onFailure: (_work, failure) => failedRound(failure, deps.costOf),
    describe: {
      replayed: "round already executed; re-announcing it",
      failed: "round failed for good; reporting it",
      done: "round executed",
      summary: (result) => ({
        steps: result.steps,
        toolCalls: result.toolCalls.length,
        capabilityRequest: result.capabilityRequest?.capability,
      }),
    },
  });
}

/** The result stored when a round cannot run at all (the manager's judge sees why). */
export function failedRound(error: InsituError, costOf?: (usage: Usage) => number): ExecutionResult {
  const line = `${error.code}: ${error.message}`.slice(0, 2000);
  return {
    report: `## Reasoning & Plan\nThe round could not run.\n\n## Key Findings & Evidence\n- executor error ${line}\n\n## Final Conclusion\nNot found: the executor failed (${line}).`,
    conclusion: `Not found: the executor failed (${line}).`,
    stepBudgetExhausted: false,
    steps: 0,
    toolCalls: [],
    repaired: [],
    succeeded: [],
    // What the round spent before it failed is still the task's (ADR 0060).
    usage: usageOfFailure(error, costOf),
  };
}
