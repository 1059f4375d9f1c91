import type { TaskUsage } from "@insitu/contracts";
import { type Usage, usageOfError } from "@insitu/llm";

/** A model call's usage as the task is charged for it: tokens, and USD at the role's prices. */
export function taskUsage(usage: Usage | undefined, costOf?: (usage: Usage) => number): TaskUsage {
  return {
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    costUsd: usage && costOf ? costOf(usage) : 0,
    toolCalls: 0,
  };
}

/** What a failed step spent before it failed: still the task's (ADR 0060). */
export function usageOfFailure(error: unknown, costOf?: (usage: Usage) => number): TaskUsage {
  return taskUsage(usageOfError(error), costOf);
}
