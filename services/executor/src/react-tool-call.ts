/** One tool call of a ReAct round: running it, recording it, and what the model gets back. */
import { createHash } from "node:crypto";
import type { ExecutorRunWork, Payload } from "@insitu/contracts";
import { isExternalVersion } from "@insitu/contracts";
import type { ToolCall, ToolResult, Usage } from "@insitu/llm";
import { canonicalJson, type ToolManifest, type ToolOutcome } from "@insitu/tool-kit";
import { describeOutcome } from "@insitu/roles";
import { classifyOutcome, isRepairable } from "./classify.js";
import { inlineShownFiles, withWorkspaceReport } from "./files.js";
import { REQUEST_CAPABILITY, type ReactRun } from "./react-context.js";
import type { ReactDeps } from "./react.js";
import { renderPrompt } from "./template.js";

/**
 * A denial of a permission the tool already declares is the operator's policy at work: rewriting
 * the tool cannot change it, so no repair is asked for. A denial of something undeclared can be
 * repaired (the tool may declare it, and the policy then decides).
 */
export function repairCanHelp(outcome: ToolOutcome, manifest: ToolManifest): boolean {
  if (outcome.status !== "PERMISSION_DENIED") return true;
  const { kind, target } = outcome.permission;
  if (target === undefined) return true;
  const declared: readonly string[] =
    kind === "net"
      ? (manifest.permissions?.network ?? [])
      : kind === "env"
        ? (manifest.permissions?.secrets ?? [])
        : [];
  return !declared.includes(target);
}

/**
 * The key of one tool call (docs/adr/0094): a redelivered step whose model makes the same call —
 * same position, same tool version, same input — gets the recorded outcome instead of a second
 * run; a different call at that position (a real model may answer differently) runs.
 */
export function toolCallKey(taskId: string, callId: string, version: string, input: unknown): string {
  const digest = createHash("sha256")
    .update(version)
    .update("\n")
    .update(canonicalJson(input ?? null))
    .digest("hex");
  const token = (text: string, max: number) => text.replace(/[^A-Za-z0-9_.:=-]/g, "_").slice(0, max);
  return `${token(taskId, 128)}.${token(callId, 100)}.${digest.slice(0, 32)}`;
}

/**
 * One tool call the model made: `request_capability` ends the round; a bound tool runs in the
 * sandbox (keyed for at-most-once), its usage is recorded, events are emitted, and its (reduced)
 * output is answered to the model. Appends the answer to `results`.
 */
export async function runToolCall(run: ReactRun, call: ToolCall, results: ToolResult[]): Promise<void> {
  const { work, deps, bound, emit } = run;
  if (call.name === REQUEST_CAPABILITY) {
    const args = call.arguments as { capability?: unknown; reason?: unknown; intended_use?: unknown };
    run.capabilityRequest = {
      capability: String(args.capability ?? "").slice(0, 4000),
      reason: String(args.reason ?? "").slice(0, 4000),
      intendedUse: String(args.intended_use ?? "").slice(0, 4000),
    };
    results.push({ callId: call.id, name: call.name, output: { sent: true } });
    return;
  }
  const tool = bound.get(call.name);
  if (!tool) {
    results.push({
      callId: call.id,
      name: call.name,
      output: {
        error: `no tool named ${call.name}; bound tools: ${[...bound.keys()].join(", ") || "none"}`,
      },
      isError: true,
    });
    return;
  }
  const callId = `${work.step}.${run.steps}.${results.length}`;
  await emit({
    kind: "tool-call-start",
    round: work.round,
    tool: call.name,
    callId,
    input: JSON.stringify(call.arguments).slice(0, 2000),
  });
  const outcome = await deps.exec(
    tool.source,
    call.arguments,
    work.taskId,
    toolCallKey(work.taskId, callId, tool.ref.version, call.arguments),
  );
  deps.heartbeat?.();
  const classified = classifyOutcome(outcome, tool.source.manifest);
  // A tool's answer that it cannot serve this input is the tool working (ADR 0057).
  if (classified === "success" || classified === "rejected-input") run.succeeded.add(call.name);
  const described = describeOutcome(outcome);
  run.calls.push({
    tool: tool.ref,
    input: call.arguments,
    outcome: classified,
    error: classified === "success" || classified === "rejected-input" ? "" : described,
    durationMs: outcome.durationMs,
    // External (MCP) tools are not ours to rewrite: never sent for repair.
    repairable:
      isRepairable(classified) &&
      repairCanHelp(outcome, tool.source.manifest) &&
      !isExternalVersion(tool.ref.version),
  });
  await deps.recordUsage({
    callId: `${work.taskId}.${callId}`,
    taskId: work.taskId,
    tool: tool.ref,
    outcome: classified,
    sandboxStatus: outcome.status,
    durationMs: outcome.durationMs,
  });
  await emit({
    kind: "tool-call-end",
    round: work.round,
    tool: call.name,
    callId,
    outcome: classified,
    durationMs: outcome.durationMs,
    output: described.slice(0, 2000),
  });
  const output =
    outcome.status === "ok"
      ? withWorkspaceReport(
          await reduceOutput(outcome.output, call.name, call.arguments, work, deps, run.charge),
          outcome,
        )
      : { error: described.slice(0, deps.limits.maxToolOutputChars) };
  if (outcome.status === "ok") {
    const images = await inlineShownFiles(outcome.output, work.taskId, deps.workspace, run.inlineBudget);
    run.shown.files.push(...images.files);
    run.shown.notes.push(...images.notes.map((note) => `${call.name}: ${note}`));
  }
  results.push({
    callId: call.id,
    name: call.name,
    output,
    isError: classified !== "success" && classified !== "rejected-input",
  });
}

/** Large outputs are reduced to the query-relevant parts (verbatim) before they enter the context. */
async function reduceOutput(
  output: unknown,
  tool: string,
  input: unknown,
  work: Payload<typeof ExecutorRunWork>,
  deps: ReactDeps,
  charge: (usage: Usage) => void,
): Promise<unknown> {
  const text = JSON.stringify(output) ?? "null";
  const max = deps.limits.maxToolOutputChars;
  if (text.length <= max) return output;
  try {
    const result = await deps.summarizer.generate({
      messages: [
        {
          role: "user",
          content: renderPrompt("reduce", {
            question: work.question,
            tool,
            input: JSON.stringify(input).slice(0, 2000),
            size: text.length,
            output: text.slice(0, max * 20),
            maxChars: max,
          }),
        },
      ],
      taskId: work.taskId,
      signal: deps.signal,
    });
    charge(result.usage);
    deps.heartbeat?.();
    return { reduced: true, originalChars: text.length, content: result.text.slice(0, max) };
  } catch {
    // Proportional truncation is the fallback when the summarizer is unavailable.
    return { truncated: true, originalChars: text.length, content: text.slice(0, max) };
  }
}
