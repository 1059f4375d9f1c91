import { randomUUID } from "node:crypto";
import type { Bus } from "@insitu/bus";
import {
  type TaskEvent,
  TaskEvents,
  TaskGet,
  type TaskRecord,
  TaskSubmit,
  isTerminalTaskStatus,
} from "@insitu/contracts";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";

/** The whole-task tool: name, schemas and description as MCP lists it. */
export const ASK_INSITU = "ask_insitu";

export const askInsituTool: Tool = {
  name: ASK_INSITU,
  description:
    "Ask insitu a whole question: it plans, builds and tests any missing tool, runs the tools in its sandbox and answers. Progress (planning, tools written, tools called) is sent as progress notifications when the call carries a progress token. Takes seconds to minutes; new tools it builds appear in this server's tool list.",
  inputSchema: {
    type: "object",
    properties: {
      question: { type: "string", minLength: 1, maxLength: 50_000, description: "The question." },
      rounds: {
        type: "integer",
        minimum: 1,
        maximum: 10,
        description: "Plan/execute rounds at most (default 5).",
      },
    },
    required: ["question"],
  },
  outputSchema: {
    type: "object",
    properties: {
      taskId: { type: "string" },
      status: { type: "string" },
      answer: { type: "string" },
      reasoning: { type: "string" },
      toolsUsed: { type: "array", items: { type: "string" } },
      toolsCreated: { type: "array", items: { type: "string" } },
      error: { type: "string" },
    },
    required: ["taskId", "status"],
  },
  _meta: { "insitu/kind": "task" },
};

/** What `ask_insitu` needs: submit a task, follow its events, read its record. */
export interface TaskPort {
  ask(
    input: { question: string; rounds?: number; callerId: string },
    onEvent: (event: TaskEvent) => void,
    signal?: AbortSignal,
  ): Promise<TaskRecord>;
}

/** One line per event for progress notifications. */
export function describeEvent(event: TaskEvent): string | undefined {
  switch (event.kind) {
    case "task-start":
      return "task started";
    case "plan-end":
      return `round ${event.round} planned: using ${event.toolsChosen.join(", ") || "no tools"}${event.toolsRequested.length ? `; building ${event.toolsRequested.join(", ")}` : ""}`;
    case "tool-build-start":
      return `writing tool ${event.name}`;
    case "tool-build-end":
      return `tool ${event.name} ${event.ok ? "built and tested" : "could not be built"}`;
    case "tool-call-end":
      return `called ${event.tool}: ${event.outcome}`;
    case "tool-repair-end":
      return `repair of ${event.tool} ${event.ok ? "succeeded" : "failed"}`;
    case "judge-end":
      return "round judged";
    case "task-end":
      return `task ${event.status}`;
    default:
      return undefined;
  }
}

/** Tasks over the bus (the manager's `task.submit`, the durable `task.events.<id>` stream). */
export function busTaskPort(bus: Bus, options: { waitMs: number }): TaskPort {
  return {
    async ask(input, onEvent, signal) {
      const taskId = `${input.callerId}-${randomUUID().slice(0, 8)}`;
      let ended!: () => void;
      const done = new Promise<void>((resolve) => {
        ended = resolve;
      });
      const subscription = bus.subscribe(
        TaskEvents,
        (event) => {
          onEvent(event);
          if (event.kind === "task-end") ended();
        },
        { token: taskId },
      );
      let timer: NodeJS.Timeout | undefined;
      try {
        await bus.request(TaskSubmit, {
          question: input.question,
          taskId,
          options: { budgets: input.rounds ? { rounds: input.rounds } : {} },
        });
        const waited = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.waitMs);
          signal?.addEventListener("abort", () => resolve(), { once: true });
        });
        await Promise.race([done, waited]);
        return await bus.request(TaskGet, { taskId });
      } finally {
        clearTimeout(timer);
        subscription.unsubscribe();
      }
    },
  };
}

/** The task record as `ask_insitu`'s structured result. */
export function askResult(record: TaskRecord): Record<string, unknown> {
  return {
    taskId: record.taskId,
    status: isTerminalTaskStatus(record.status) ? record.status : `${record.status} (still running)`,
    ...(record.answer
      ? { answer: record.answer.final_answer, reasoning: record.answer.reasoning_summary }
      : {}),
    toolsUsed: record.toolsUsed,
    toolsCreated: record.toolsCreated,
    ...(record.error ? { error: `${record.error.code}: ${record.error.message}` } : {}),
  };
}
