import type { TaskEvent, TaskRecord } from "@insitu/contracts";

/**
 * Human-readable lines for a task's live progress (`insitu ask`, `insitu demo`). Pure: an event
 * in, lines out, so the wording is tested without a stack.
 */
export interface RenderOptions {
  color?: boolean;
  /** Longest tool input/output excerpt shown. */
  excerptChars?: number;
}

const style = {
  dim: 90,
  green: 32,
  red: 31,
  yellow: 33,
  cyan: 36,
  bold: 1,
} as const;

export function renderEvent(event: TaskEvent, options: RenderOptions = {}): string[] {
  const paint = (code: number, text: string): string =>
    options.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  const excerpt = (text: string): string => shorten(text, options.excerptChars ?? 160);
  switch (event.kind) {
    case "task-start":
      return [paint(style.bold, `▶ task ${event.taskId}`) + ` ${JSON.stringify(excerpt(event.question))}`];
    case "plan-end": {
      const lines = [
        `${paint(style.cyan, "● planning")} round ${event.round}: ${event.candidates} candidate tool${event.candidates === 1 ? "" : "s"} retrieved` +
          (event.toolsChosen.length ? `; reusing ${event.toolsChosen.join(", ")}` : "; reusing none") +
          (event.toolsRequested.length ? `; new tools needed: ${event.toolsRequested.join(", ")}` : ""),
      ];
      if (event.guidance.trim()) lines.push(paint(style.dim, `  guidance: ${excerpt(event.guidance)}`));
      return lines;
    }
    case "tool-build-start":
      return [`${paint(style.yellow, "✎ writing tool")} ${event.name} — ${excerpt(event.description)}`];
    case "tool-build-attempt": {
      const tests =
        event.testsTotal !== undefined ? ` (${event.testsPassed ?? 0}/${event.testsTotal} tests passed)` : "";
      const result = {
        invalid: paint(style.red, "module invalid"),
        "check-failed": paint(style.red, "type-check failed"),
        "tests-failed": paint(style.red, "tests failed"),
        passed: paint(style.green, "type-checked and tested"),
      }[event.result];
      const lines = [`  attempt ${event.attempt} of ${event.name}: ${result}${tests}`];
      if (event.diagnostics && event.result !== "passed")
        lines.push(paint(style.dim, `    ${excerpt(event.diagnostics)}`));
      return lines;
    }
    case "tool-build-end":
      return event.ok
        ? [
            `${paint(style.green, "✔ registered")} ${event.name}${event.version ? ` ${shortVersion(event.version)}` : ""}`,
          ]
        : [
            `${paint(style.red, "✘ could not build")} ${event.name}: ${excerpt(event.reason ?? "no reason given")}`,
          ];
    case "tool-review-pending":
      return [
        `${paint(style.yellow, "⏸ waiting for review")} ${event.name} ${shortVersion(event.version)} asks for ${event.permissions.join(", ")}` +
          (event.waiting
            ? " — the task waits (insitu review approve|deny)"
            : " — the task goes on without it"),
      ];
    case "tool-call-start":
      return [`${paint(style.cyan, "→ calling")} ${event.tool}(${excerpt(event.input)})`];
    case "tool-call-end": {
      const ok = event.outcome === "success";
      return [
        `${paint(ok ? style.green : style.red, `← ${event.tool}: ${event.outcome}`)} in ${Math.round(event.durationMs)} ms` +
          (event.output ? paint(style.dim, ` — ${excerpt(event.output)}`) : ""),
      ];
    }
    case "tool-repair-end":
      return event.ok
        ? [
            `${paint(style.green, "✔ repaired")} ${event.tool}${event.version ? ` → ${shortVersion(event.version)}` : ""}`,
          ]
        : [
            `${paint(style.red, "✘ repair failed")} ${event.tool}: ${excerpt(event.reason ?? "no reason given")}`,
          ];
    case "executor-report":
      return [
        `${paint(style.cyan, "● executor")} round ${event.round} finished after ${event.steps} step${event.steps === 1 ? "" : "s"}: ${excerpt(event.conclusion)}`,
        ...(event.capabilityRequest
          ? [`  asks for a new capability: ${excerpt(event.capabilityRequest)}`]
          : []),
      ];
    case "judge-end":
      return [
        `${paint(event.verdict === "FINISH" ? style.green : style.yellow, `● judge: ${event.verdict}`)} — ${excerpt(event.reason)}`,
      ];
    case "task-end":
      return [
        `${paint(event.status === "succeeded" ? style.green : style.red, `■ task ${event.status}`)}` +
          (event.error ? ` — ${event.error.code}: ${excerpt(event.error.message)}` : ""),
      ];
    default:
      return [];
  }
}

/** The closing block: the answer, tools used and created, tokens and cost. */
export function renderSummary(
  record: Pick<TaskRecord, "answer" | "toolsUsed" | "toolsCreated" | "usage" | "status" | "error">,
  options: RenderOptions = {},
): string[] {
  const paint = (code: number, text: string): string =>
    options.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  const lines: string[] = [""];
  if (record.answer) {
    lines.push(paint(style.bold, "Answer:"), record.answer.final_answer, "");
    if (record.answer.reasoning_summary.trim())
      lines.push(paint(style.dim, `Why: ${record.answer.reasoning_summary}`), "");
  } else {
    lines.push(
      paint(
        style.red,
        `No answer (${record.status}${record.error ? `: ${record.error.code} — ${record.error.message}` : ""})`,
      ),
      "",
    );
  }
  const created = new Set(record.toolsCreated);
  const reused = record.toolsUsed.filter((name) => !created.has(name));
  lines.push(`Tools created: ${record.toolsCreated.length ? record.toolsCreated.join(", ") : "none"}`);
  lines.push(`Tools reused:  ${reused.length ? reused.join(", ") : "none"}`);
  lines.push(
    `Tool calls: ${record.usage.toolCalls}   Tokens: ${formatInt(record.usage.inputTokens)} in / ${formatInt(record.usage.outputTokens)} out   Cost: ${formatUsd(record.usage.costUsd)}`,
  );
  return lines;
}

export function formatUsd(value: number): string {
  return value === 0 ? "$0.00" : value < 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

function formatInt(value: number): string {
  return value.toLocaleString("en-US");
}

function shortVersion(version: string): string {
  return version.startsWith("sha256:") ? `(${version.slice(0, 19)}…)` : `(${version})`;
}

function shorten(text: string, max: number): string {
  const single = text.replace(/\s+/g, " ").trim();
  return single.length > max ? `${single.slice(0, max - 1)}…` : single;
}
