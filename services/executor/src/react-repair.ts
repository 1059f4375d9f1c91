/**
 * Review & repair: a tool that failed on valid input and has not succeeded yet gets repaired from
 * its failing calls (within the task's budget); the model is told what changed.
 */
import type { CallRecord, ReactRun } from "./react-context.js";

/** Repairs the round's failing tools; returns the notes for the model. */
export async function reviewAndRepair(run: ReactRun): Promise<string[]> {
  const { work, deps, usage, bound, repairs, emit } = run;
  const notes: string[] = [];
  const failingByTool = new Map<string, CallRecord[]>();
  for (const call of run.calls) {
    if (!call.repairable || run.succeeded.has(call.tool.name)) continue;
    const current = bound.get(call.tool.name);
    if (!current || current.ref.version !== call.tool.version) continue;
    failingByTool.set(call.tool.name, [...(failingByTool.get(call.tool.name) ?? []), call]);
  }
  for (const [name, failing] of failingByTool) {
    const used = repairs.get(name) ?? 0;
    if (used >= deps.limits.maxRepairsPerTool) continue;
    const current = bound.get(name);
    if (!current) continue;
    // The repair's model calls spend the task's budget: it gets what is left, and no repair
    // starts once nothing is (ADR 0090).
    if (run.budgetStop()) break;
    repairs.set(name, used + 1);
    const answer = await deps.repair({
      taskId: work.taskId,
      round: work.round,
      tool: current.ref,
      failingCalls: failing
        .slice(-5)
        .map((call) => ({ input: call.input, outcome: call.outcome, error: call.error.slice(0, 8000) })),
      question: work.question,
      ...(work.maxTokens !== undefined
        ? { maxTokens: Math.max(1, work.maxTokens - usage.inputTokens - usage.outputTokens) }
        : {}),
      ...(work.deadline ? { deadline: work.deadline } : {}),
    });
    deps.heartbeat?.();
    // Every repair attempt is the task's, the one stopped by the budget included.
    usage.inputTokens += answer.usage.inputTokens;
    usage.outputTokens += answer.usage.outputTokens;
    run.toolCost += answer.usage.costUsd;
    if (answer.budgetExceeded) {
      await emit({
        kind: "tool-repair-end",
        round: work.round,
        tool: name,
        ok: false,
        reason: (answer.reason ?? "the task's budget ran out during the repair").slice(0, 4000),
      });
      run.budgetExceededIn = answer.reason ?? "the task's budget ran out during a repair";
      break;
    }
    const unchanged = answer.ok && answer.version === current.ref.version;
    await emit({
      kind: "tool-repair-end",
      round: work.round,
      tool: name,
      ok: answer.ok && !unchanged,
      ...(answer.version && !unchanged ? { version: answer.version } : {}),
      ...(unchanged
        ? { reason: "the repair produced the same version (identical content hash); nothing changed" }
        : answer.reason
          ? { reason: answer.reason.slice(0, 4000) }
          : {}),
    });
    if (answer.ok && answer.version === current.ref.version) {
      // The "repair" is the same content (same hash): not a new version, not announced as one,
      // and the model is not asked to call it again (ADR 0057).
      notes.push(
        `Tool ${name} could not be improved (the rewrite was identical to the current version); work around it.`,
      );
    } else if (answer.ok && answer.version) {
      const ref = { name, version: answer.version };
      bound.set(name, { ref, source: await deps.getTool(ref) });
      run.repaired.push(ref);
      notes.push(
        `Tool ${name} was repaired (new version ${answer.version.slice(0, 19)}…) and now handles the inputs that failed. Call it again where you need its result.`,
      );
    } else {
      notes.push(
        `Tool ${name} could not be repaired (${(answer.reason ?? "no reason").slice(0, 500)}); work around it.`,
      );
    }
  }
  return notes;
}
