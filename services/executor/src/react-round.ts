/**
 * One step of a ReAct round: check the budget, call the model, run its tool calls, show the
 * files they asked to show, review & repair, and stop at the step limit.
 */
import type { ExecutionResult } from "@insitu/contracts";
import { type ToolResult, toModelMessage } from "@insitu/llm";
import { type CallRecord, type ReactRun, maybeSummarize } from "./react-context.js";
import { reviewAndRepair } from "./react-repair.js";
import { runToolCall } from "./react-tool-call.js";
import { capabilityRequestOf } from "./report.js";
import { renderPrompt } from "./template.js";

/** Runs one step of the round; true when the round is over (its report is set). */
export async function runRound(run: ReactRun): Promise<boolean> {
  const { work, deps } = run;
  const stop = run.budgetStop();
  if (stop) {
    run.stepBudgetExhausted = true;
    run.report = budgetStopReport(stop, run.calls);
    return true;
  }
  run.messages = await maybeSummarize(run.messages, work, deps, run.charge);
  const result = await run.generate({ system: run.system, tools: run.definitions(), toolChoice: "auto" });
  run.messages.push(toModelMessage(result));
  if (result.toolCalls.length === 0) {
    run.report = result.text;
    return true;
  }
  run.steps++;
  const results: ToolResult[] = [];
  for (const call of result.toolCalls) await runToolCall(run, call, results);
  run.messages.push({ role: "tool", results });
  const { shown } = run;
  if (shown.files.length > 0 || shown.notes.length > 0) {
    run.messages.push({
      role: "user",
      content: [
        shown.files.length > 0
          ? `Files the tools asked to show you: ${shown.files.map((file) => file.name).join(", ")}.`
          : "",
        ...shown.notes.map((note) => `(${note})`),
      ]
        .filter(Boolean)
        .join("\n"),
      ...(shown.files.length > 0 ? { files: [...shown.files] } : {}),
    });
    shown.files.length = 0;
    shown.notes.length = 0;
  }
  if (run.capabilityRequest) {
    run.report = capabilityReport(result.text, run.capabilityRequest, run.calls);
    return true;
  }
  // Review & repair: a tool that failed on valid input and has not succeeded yet gets repaired
  // from its failing calls and replayed on them; the model is told to call it again.
  const notes = await reviewAndRepair(run);
  // A repair that ran out of the task's budget ends the round here: no model call after it.
  const stopAfterRepair = run.budgetStop();
  if (stopAfterRepair) {
    run.stepBudgetExhausted = true;
    run.report = budgetStopReport(stopAfterRepair, run.calls);
    return true;
  }
  if (notes.length > 0) run.messages.push({ role: "user", content: notes.join("\n") });
  if (run.steps >= work.maxSteps) {
    run.stepBudgetExhausted = true;
    run.messages.push({ role: "user", content: renderPrompt("budget", { steps: run.steps }) });
    const final = await run.generate({ system: run.system, tools: run.definitions(), toolChoice: "none" });
    run.messages.push(toModelMessage(final));
    run.report = final.text;
    run.capabilityRequest = capabilityRequestOf(run.report);
    return true;
  }
  return false;
}

function budgetStopReport(reason: string, calls: CallRecord[]): string {
  const findings =
    calls.length === 0
      ? "- (no tool calls)"
      : calls
          .map((call) => `- ${call.tool.name}(${JSON.stringify(call.input).slice(0, 300)}) → ${call.outcome}`)
          .join("\n");
  return [
    "## Reasoning & Plan",
    `The round stopped early: ${reason}.`,
    "",
    "## Key Findings & Evidence",
    findings,
    "",
    "## Final Conclusion",
    `Not found: ${reason}.`,
  ].join("\n");
}

function capabilityReport(
  text: string,
  request: NonNullable<ExecutionResult["capabilityRequest"]>,
  calls: CallRecord[],
): string {
  const findings =
    calls.length === 0
      ? "- (no tool calls yet)"
      : calls
          .map((call) => `- ${call.tool.name}(${JSON.stringify(call.input).slice(0, 300)}) → ${call.outcome}`)
          .join("\n");
  return [
    "## Reasoning & Plan",
    text.trim() || "The bound tools cannot supply what the question needs.",
    "",
    "## Key Findings & Evidence",
    findings,
    "",
    "## Final Conclusion",
    `Not found yet: the round stopped to request a missing capability (${request.capability}).`,
    "",
    "## Additional Tool Requirement",
    `- capability: ${request.capability}`,
    `- why: ${request.reason}`,
    `- intended use: ${request.intendedUse}`,
  ].join("\n");
}
