import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { EvalState, TaskEvent, TaskRecord } from "@insitu/contracts";
import { notFound } from "@insitu/errors";
import { createLogger } from "@insitu/telemetry";
import { describe, expect, it, vi } from "vitest";
import { createGatewayApi } from "./api.js";
import type { GatewayBackend } from "./backend.js";
import { FakeResponse } from "./http/fake-response.js";

// Labelled fakes: a backend whose events the test pushes by hand, and request/response objects
// with just the surface node:http gives the handler. No socket, no network.

function request(
  method: string,
  url: string,
  body?: string,
  headers: Record<string, string> = {},
): IncomingMessage {
  const stream = Readable.from(body === undefined ? [] : [Buffer.from(body)]);
  return Object.assign(stream, { method, url, headers }) as unknown as IncomingMessage;
}

function record(status: TaskRecord["status"]): TaskRecord {
  return {
    taskId: "t1",
    question: "q",
    status,
    round: 1,
    budgets: { rounds: 5, tokens: 1, costUsd: 1, wallMs: 1000, executorSteps: 10 },
    createdAt: "c",
    updatedAt: "u",
    finishedAt: "f",
    toolsUsed: ["count_vowels"],
    toolsCreated: [],
    usage: { inputTokens: 1, outputTokens: 2, costUsd: 0, toolCalls: 1 },
    rounds: [],
    answer: { final_answer: "5", reasoning_summary: "r" },
  };
}

function setup(status: TaskRecord["status"] = "executing", apiToken?: string, maxStreams?: number) {
  let push: (event: TaskEvent) => void = () => {};
  const stopped = vi.fn();
  const backend: GatewayBackend = {
    submitTask: async (input) => ({ taskId: input.taskId ?? "new", status: "queued" }),
    getTask: async (taskId) => {
      if (taskId !== "t1") throw notFound(`task ${taskId}`);
      return record(status);
    },
    listTasks: async () => ({ tasks: [] }),
    followTaskEvents(_taskId, onEvent) {
      push = onEvent;
      return stopped;
    },
    listTools: async () => ({ tools: [] }),
    toolHistory: async (name) => ({ name }),
    metricsSummary: async () => ({
      librarySize: 0,
      toolsCreated: 0,
      toolCalls: 0,
      callsByOutcome: {},
      egl: null,
      successRate: null,
      reuseRate: null,
    }),
    // FAKE eval list: echoes the limit it was asked for in the id.
    listEvals: async ({ limit }) => ({ evals: [{ ...EVAL_STATE, evalId: `jsonl-limit-${limit}` }] }),
    // FAKE registry series: two finished tasks.
    metricsSeries: async ({ batchSize }) => ({
      total: 2,
      batchSize: batchSize ?? 16,
      points: [
        {
          index: 1,
          taskId: "t-1",
          at: "2026-12-04T00:00:00.000Z",
          toolCalls: 0,
          toolsAdmitted: 0,
          versionsBuilt: 0,
          librarySize: 0,
          egl: null,
          successRate: null,
          reuseRate: null,
        },
        {
          index: 2,
          taskId: "t-2",
          at: "2026-12-04T00:01:00.000Z",
          toolCalls: 4,
          toolsAdmitted: 1,
          versionsBuilt: 2,
          librarySize: 1,
          egl: 0.25,
          successRate: 0.75,
          reuseRate: 0.5,
        },
      ],
      batches: [],
    }),
  };
  const api = createGatewayApi({
    backend,
    logger: createLogger({ service: "gateway-test", write: () => {} }),
    bodyLimitBytes: 1024,
    heartbeatMs: 60_000,
    terminalGraceMs: 50,
    ...(apiToken ? { apiToken } : {}),
    ...(maxStreams ? { maxStreams } : {}),
  });
  const call = async (req: IncomingMessage): Promise<FakeResponse> => {
    const response = new FakeResponse();
    api.handle(req, response as unknown as ServerResponse);
    // Let the async route run up to its first await on the backend.
    await new Promise((resolve) => setTimeout(resolve, 5));
    return response;
  };
  return { api, call, push: (event: TaskEvent) => push(event), stopped };
}

const at = "2026-01-01T00:00:00.000Z";
const start: TaskEvent = { kind: "task-start", taskId: "t1", time: at, question: "q" };
const judge: TaskEvent = {
  kind: "judge-end",
  taskId: "t1",
  time: at,
  round: 1,
  verdict: "FINISH",
  reason: "ok",
};
const end: TaskEvent = {
  kind: "task-end",
  taskId: "t1",
  time: at,
  status: "succeeded",
  toolsUsed: [],
  toolsCreated: [],
  usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 0 },
};

const EVAL_STATE: EvalState = {
  evalId: "jsonl-abc",
  benchmark: "jsonl",
  status: "asking",
  startedAt: "2026-12-05T00:00:00.000Z",
  updatedAt: "2026-12-05T00:00:01.000Z",
  run: 1,
  runs: 1,
  items: 3,
  answered: 1,
  judged: 0,
  accuracy: null,
  byCategory: [],
  batches: [{ batch: 1, queries: 1, librarySize: 1, egl: 1 }],
  costPerQuery: [{ query: 1, costUsd: 0.01 }],
};

describe("GET /v1/evals", () => {
  it("lists the live eval states (default 10), and refuses a bad limit with 400", async () => {
    const { call } = setup();
    const list = await call(request("GET", "/v1/evals"));
    expect(list.statusCode).toBe(200);
    expect(JSON.parse(list.body)).toEqual({ evals: [{ ...EVAL_STATE, evalId: "jsonl-limit-10" }] });
    expect(JSON.parse((await call(request("GET", "/v1/evals?limit=2"))).body).evals[0].evalId).toBe(
      "jsonl-limit-2",
    );
    const bad = await call(request("GET", "/v1/evals?limit=0"));
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain("query.limit");
  });
});

describe("operator review routes (ADR 0130)", () => {
  const hash = "a".repeat(64);
  it("refuses a bad hash or decision with 400 naming the field, before asking the registry", async () => {
    const { call } = setup();
    const badHash = await call(request("GET", "/v1/versions/sha256:xyz"));
    expect(badHash.statusCode).toBe(400);
    expect(badHash.body).toContain("path.hash");
    const noReason = await call(
      request(
        "POST",
        `/v1/reviews/${hash}/decision`,
        JSON.stringify({ decision: "approve", by: "ops", reason: " " }),
      ),
    );
    expect(noReason.statusCode).toBe(400);
    expect(noReason.body).toContain("body.reason");
    const badDecision = await call(
      request(
        "POST",
        `/v1/reviews/${hash}/decision`,
        JSON.stringify({ decision: "maybe", by: "ops", reason: "x" }),
      ),
    );
    expect(badDecision.statusCode).toBe(400);
    expect(badDecision.body).toContain("body.decision");
  });

  it("answers 503 UNAVAILABLE when the gateway has no registry to review with", async () => {
    const { call } = setup();
    const list = await call(request("GET", "/v1/reviews"));
    expect(list.statusCode).toBe(503);
    expect(list.body).toContain("UNAVAILABLE");
  });
});

describe("GET /v1/metrics/series", () => {
  it("serves the convergence series as JSON and as CSV, and refuses an unknown format", async () => {
    const { call } = setup();
    const json = await call(request("GET", "/v1/metrics/series?batch=8"));
    expect(json.statusCode).toBe(200);
    expect(JSON.parse(json.body)).toMatchObject({ total: 2, batchSize: 8 });
    const csv = await call(request("GET", "/v1/metrics/series?format=csv"));
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(csv.body.split("\n")).toEqual([
      "index,task_id,at,tool_calls,tools_admitted,versions_built,library_size,egl,success_rate,reuse_rate",
      '1,"t-1",2026-12-04T00:00:00.000Z,0,0,0,0,,,',
      '2,"t-2",2026-12-04T00:01:00.000Z,4,1,2,1,0.25,0.75,0.5',
      "",
    ]);
    const bad = await call(request("GET", "/v1/metrics/series?format=xml"));
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain("query.format");
  });
});

describe("gateway API (no network)", () => {
  it("numbers relayed events, ends the stream after task-end and stops following", async () => {
    const { call, push, stopped } = setup();
    const response = await call(request("GET", "/v1/tasks/t1/events"));
    expect(response.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    push(start);
    push(judge);
    push(end);
    push(judge); // after the end: never written
    await response.ended;
    expect(response.body).toBe(
      [
        ": task t1",
        "",
        `id: 1\nevent: task-start\ndata: ${JSON.stringify(start)}`,
        "",
        `id: 2\nevent: judge-end\ndata: ${JSON.stringify(judge)}`,
        "",
        `id: 3\nevent: task-end\ndata: ${JSON.stringify(end)}`,
        "",
        "",
      ].join("\n"),
    );
    expect(stopped).toHaveBeenCalled();
  });

  it("skips events up to Last-Event-ID", async () => {
    const { call, push } = setup();
    const response = await call(request("GET", "/v1/tasks/t1/events", undefined, { "last-event-id": "2" }));
    push(start);
    push(judge);
    push(end);
    await response.ended;
    expect(response.body).not.toContain("event: task-start");
    expect(response.body).not.toContain("event: judge-end");
    expect(response.body).toContain("id: 3\nevent: task-end");
  });

  it("rebuilds task-end from the record of a finished task whose end never arrives", async () => {
    const { call, push } = setup("succeeded");
    const response = await call(request("GET", "/v1/tasks/t1/events"));
    push(start);
    await response.ended;
    expect(response.body).toContain("id: 1\nevent: task-start");
    expect(response.body).toContain(
      'id: 2\nevent: task-end\ndata: {"kind":"task-end","taskId":"t1","time":"f","status":"succeeded","answer":{"final_answer":"5"',
    );
  });

  it("refuses streams beyond the limit with a retryable 503", async () => {
    const { call } = setup("executing", undefined, 1);
    await call(request("GET", "/v1/tasks/t1/events"));
    const refused = await call(request("GET", "/v1/tasks/t1/events"));
    expect(refused.statusCode).toBe(503);
    expect(JSON.parse(refused.body).error).toMatchObject({ code: "TOO_MANY_STREAMS", retryable: true });
  });

  it("close() ends every open stream", async () => {
    const { api, call } = setup();
    const first = await call(request("GET", "/v1/tasks/t1/events"));
    const second = await call(request("GET", "/v1/tasks/t1/events"));
    expect(api.openStreams).toBe(2);
    api.close();
    await Promise.all([first.ended, second.ended]);
    expect(api.openStreams).toBe(0);
  });

  it("answers JSON errors: 404 unknown route, 405 with Allow, 404 unknown task, 400 bad body", async () => {
    const { call } = setup();
    const missing = await call(request("GET", "/nope"));
    expect(missing.statusCode).toBe(404);
    expect(JSON.parse(missing.body).error.code).toBe("ROUTE_NOT_FOUND");
    const wrong = await call(request("PUT", "/v1/tasks"));
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers.allow).toBe("POST, GET");
    const unknown = await call(request("GET", "/v1/tasks/zzz/events"));
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers["content-type"]).toContain("application/json");
    const bad = await call(
      request("POST", "/v1/tasks", JSON.stringify({ question: 3 }), { "content-type": "application/json" }),
    );
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).error).toMatchObject({ code: "INVALID_REQUEST", category: "user" });
    expect(bad.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await call(request("GET", "/nope", undefined, { "x-request-id": "client-42" }));
    expect(echoed.headers["x-request-id"]).toBe("client-42");
    const hostile = await call(request("GET", "/nope", undefined, { "x-request-id": "a\r\nset-cookie: x" }));
    expect(hostile.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("requires the bearer token when one is configured", async () => {
    const { call } = setup("executing", "s3cret-token-0123456789");
    const none = await call(request("GET", "/v1/tasks/t1"));
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toContain("Bearer");
    expect(JSON.parse(none.body).error.code).toBe("UNAUTHORIZED");
    const wrong = await call(request("GET", "/v1/tasks/t1", undefined, { authorization: "Bearer nope" }));
    expect(wrong.statusCode).toBe(401);
    const right = await call(
      request("GET", "/v1/tasks/t1", undefined, { authorization: "Bearer s3cret-token-0123456789" }),
    );
    expect(right.statusCode).toBe(200);
  });

  it("submits with 202 and links to the task and its events", async () => {
    const { call } = setup();
    const response = await call(
      request("POST", "/v1/tasks", JSON.stringify({ question: "hi", taskId: "abc" })),
    );
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({
      taskId: "abc",
      status: "queued",
      links: { self: "/v1/tasks/abc", events: "/v1/tasks/abc/events" },
    });
  });
});
