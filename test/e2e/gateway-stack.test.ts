import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";

// The gateway in front of the real manager and registry (each its own process, real nats-server).
// No question is run to the end here (that is cli-ask.test.ts); this checks the HTTP surface
// against the real services behind it.

const root = findRepoRoot();
let stack: Stack;
let base: string;

beforeAll(async () => {
  stack = await startStack({
    services: ["registry", "manager", "gateway"],
    env: { INSITU_SCRIPT: join(root, "test/e2e/scenarios/loop.json"), LOG_LEVEL: "warn" },
    onLog: () => {},
  });
  base = stack.url("gateway");
});

afterAll(async () => {
  await stack?.stop();
});

interface ErrorBody {
  error: { code: string; message: string; details: { issues?: { path: string }[] } };
}

describe("gateway against the real manager and registry", () => {
  it("lists the (empty) library and its convergence figures from the registry", async () => {
    const tools = (await (await fetch(`${base}/v1/tools`)).json()) as {
      snapshot: number;
      total: number;
      tools: unknown[];
    };
    expect(tools).toEqual({ snapshot: 0, total: 0, tools: [] });
    const search = await (await fetch(`${base}/v1/tools?q=count%20vowels`)).json();
    expect(search).toMatchObject({ hits: [], snapshot: 0 });
    const summary = await (await fetch(`${base}/v1/metrics/summary`)).json();
    expect(summary).toMatchObject({
      librarySize: 0,
      toolsCreated: 0,
      toolCalls: 0,
      egl: null,
      reuseRate: null,
    });
  });

  it("answers 404 for a task the manager does not know, through both the record and the stream", async () => {
    const record = await fetch(`${base}/v1/tasks/nobody-asked-this`);
    expect(record.status).toBe(404);
    expect(((await record.json()) as ErrorBody).error.code).toBe("NOT_FOUND");
    expect((await fetch(`${base}/v1/tasks/nobody-asked-this/events`)).status).toBe(404);
  });

  it("refuses a bad submission before it reaches the manager", async () => {
    const response = await fetch(`${base}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ question: "x", options: { budgets: { rounds: 99 } } }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.details.issues?.map((issue) => issue.path)).toEqual(["body.options.budgets.rounds"]);
    const tasks = (await (await fetch(`${base}/v1/tasks`)).json()) as { tasks: unknown[] };
    expect(tasks.tasks).toEqual([]);
  });

  it("accepts a task, streams its first event and shows it in the task list", async () => {
    const submitted = await fetch(`${base}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        question: "How many vowels are in the word 'encyclopedia'?",
        taskId: "gw-e2e-1",
      }),
    });
    expect(submitted.status).toBe(202);
    expect(await submitted.json()).toMatchObject({ taskId: "gw-e2e-1" });
    const controller = new AbortController();
    const events = await fetch(`${base}/v1/tasks/gw-e2e-1/events`, { signal: controller.signal });
    const reader = events.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("event: task-start")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    expect(text).toContain("event: task-start");
    expect(text).toContain('"question":"How many vowels are in the word \'encyclopedia\'?"');
    const list = (await (await fetch(`${base}/v1/tasks`)).json()) as { tasks: { taskId: string }[] };
    expect(list.tasks.map((task) => task.taskId)).toContain("gw-e2e-1");
  });
});
