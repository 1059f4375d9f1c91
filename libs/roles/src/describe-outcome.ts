import type { ToolOutcome } from "@insitu/tool-kit";

/** A one-line description of a tool call's outcome, for the model, events and repair requests. */
export function describeOutcome(outcome: ToolOutcome): string {
  switch (outcome.status) {
    case "ok":
      return JSON.stringify(outcome.output) ?? "null";
    case "INVALID_INPUT":
    case "INVALID_OUTPUT":
      return `${outcome.status}: ${outcome.issues.map((issue) => `${issue.path || "/"} ${issue.message}`).join("; ")}`;
    case "CRASH":
      return `CRASH: ${outcome.message}${outcome.stack ? `\n${outcome.stack}` : ""}`;
    case "PERMISSION_DENIED":
      return `PERMISSION_DENIED (${outcome.permission.kind}${outcome.permission.target ? ` ${outcome.permission.target}` : ""}): ${outcome.message}`;
    case "TIMEOUT":
      return `TIMEOUT after ${outcome.limitMs} ms`;
    case "MEMORY_LIMIT":
      return `MEMORY_LIMIT: over ${outcome.limitMb} MB`;
    case "OUTPUT_LIMIT":
      return `OUTPUT_LIMIT: over ${outcome.limitBytes} bytes`;
  }
}
