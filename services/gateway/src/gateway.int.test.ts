import { randomBytes } from "node:crypto";
import {
  type Bus,
  type NatsServerHandle,
  Naming,
  connectBus,
  natsConnectOptions,
  endpoint,
  startNatsServer,
} from "@insitu/bus";
import {
  generateSigningKey,
  RegistryHistory,
  RegistryList,
  RegistrySearch,
  RegistryStats,
  type TaskEvent,
  TaskEvents,
  TaskGet,
  TaskList,
  type TaskRecord,
  TaskSubmit,
} from "@insitu/contracts";
import { notFound } from "@insitu/errors";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type RunningService, runService } from "@insitu/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayService } from "./service.js";

// The gateway and the bus are real, over a real nats-server. The manager and registry behind it are
// STUBS served on the same bus (their own services are tested in their packages).

let server: NatsServerHandle;
let bus: Bus;
let gateway: RunningService<unknown>;
let base: string;
const prefix = `gw${randomBytes(4).toString("hex")}`;
const submitted: string[] = [];
const records = new Map<string, TaskRecord>();

function record(taskId: string, question: string, status: TaskRecord["status"]): TaskRecord {
  const now = new Date().toISOString();
  return {
    taskId,
    question,
    status,
    round: 0,
    budgets: { rounds: 5, tokens: 1000, costUsd: 1, wallMs: 60_000, executorSteps: 10 },
    createdAt: now,
    updatedAt: now,
    toolsUsed: [],
    toolsCreated: [],
    usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 0 },
    rounds: [],
  };
}

interface ErrorBody {
  error: { code: string; retryable: boolean; details: { issues: { path: string }[] } };
}

const time = () => new Date().toISOString();
const usage = { inputTokens: 10, outputTokens: 5, costUsd: 0.001, toolCalls: 1 };

beforeAll(async () => {
  server = await startNatsServer();
  bus = await connectBus({ url: server.url, prefix, name: "gateway-test-stubs" });
  await bus.serve({
    name: "manager",
    version: "0.0.0",
    description: "STUB manager for the gateway's integration test",
    endpoints: [
      endpoint(TaskSubmit, async (data) => {
        const taskId = data.taskId ?? `t${submitted.length + 1}`;
        submitted.push(data.question);
        records.set(taskId, record(taskId, data.question, "queued"));
        return { taskId, status: "queued" as const };
      }),
      endpoint(TaskGet, async ({ taskId }) => {
        const found = records.get(taskId);
        if (!found) throw notFound(`task ${taskId}`, { taskId });
        return found;
      }),
      endpoint(TaskList, async () => ({ tasks: [] })),
    ],
  });
  await bus.serve({
    name: "registry",
    version: "0.0.0",
    description: "STUB registry for the gateway's integration test",
    endpoints: [
      endpoint(RegistryList, async (data) => ({
        snapshot: 3,
        total: 0,
        tools: [],
        ...(data.limit === 7 ? { total: 7 } : {}),
      })),
      endpoint(RegistrySearch, async () => ({
        mode: "lexical" as const,
        snapshot: 3,
        hits: [],
        tookMs: 0.2,
      })),
      endpoint(RegistryHistory, async ({ name }) => ({ name, versions: [], events: [] })),
      endpoint(RegistryStats, async () => ({
        global: {
          snapshot: 3,
          librarySize: 4,
          toolsCreated: 4,
          toolCalls: 40,
          callsByOutcome: { success: 38, "execution-failure": 2 },
          egl: 0.1,
          successRate: 0.95,
          reuseRate: 0.5,
          tasksSeen: 6,
          topTools: [{ name: "search_web", calls: 20 }],
        },
      })),
    ],
  });
  gateway = (await runService(gatewayService, {
    env: {
      NATS_URL: server.url,
      NATS_PREFIX: prefix,
      HTTP_PORT: "0",
      GATEWAY_SIGNING_KEY: generateSigningKey().privateKey,
      GATEWAY_BODY_LIMIT_BYTES: "2048",
      // POST /v1/tasks has its own (larger, attachment-sized) cap; keep it small here too.
      GATEWAY_TASK_BODY_LIMIT_BYTES: "2048",
      GATEWAY_TERMINAL_GRACE_MS: "300",
      LOG_LEVEL: "warn",
    },
    handleSignals: false,
  })) as RunningService<unknown>;
  base = gateway.httpUrl;
});

afterAll(async () => {
  await gateway?.shutdown();
  await bus?.drain();
  await server?.dispose();
});

async function post(
  path: string,
  body: string,
  headers: Record<string, string> = { "content-type": "application/json" },
) {
  const response = await fetch(`${base}${path}`, { method: "POST", body, headers });
  return { status: response.status, body: (await response.json()) as ErrorBody & Record<string, unknown> };
}

/** Reads an SSE response to its end; returns the events (id, event, parsed data). */
async function readEvents(response: Response): Promise<{ id?: string; event: string; data: unknown }[]> {
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.split("\n").some((line) => line.startsWith("data:")))
    .map((block) => {
      const fields = Object.fromEntries(
        block
          .split("\n")
          .filter((line) => !line.startsWith(":"))
          .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
      );
      return { id: fields.id, event: fields.event ?? "message", data: JSON.parse(fields.data ?? "null") };
    });
}

describe("gateway HTTP API over a real bus", () => {
  it("submits a task through the manager endpoint and answers 202 with links", async () => {
    const { status, body } = await post(
      "/v1/tasks",
      JSON.stringify({ question: "What is 6 x 7?", taskId: "given-1" }),
    );
    expect(status).toBe(202);
    expect(body).toEqual({
      taskId: "given-1",
      status: "queued",
      links: { self: "/v1/tasks/given-1", events: "/v1/tasks/given-1/events" },
    });
    expect(submitted).toContain("What is 6 x 7?");
    const got = await fetch(`${base}/v1/tasks/given-1`);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({
      taskId: "given-1",
      question: "What is 6 x 7?",
      status: "queued",
    });
  });

  it("answers 400 with every bad field named, and never calls the manager", async () => {
    const before = submitted.length;
    const { status, body } = await post("/v1/tasks", JSON.stringify({ question: "", surprise: true }));
    expect(status).toBe(400);
    expect(body.error.code).toBe("INVALID_REQUEST");
    expect(body.error.details.issues.map((issue: { path: string }) => issue.path)).toEqual(
      expect.arrayContaining(["body.question", "body"]),
    );
    expect((await post("/v1/tasks", "{not json")).body.error.code).toBe("MALFORMED_JSON");
    expect((await post("/v1/tasks", "question=hi", { "content-type": "text/plain" })).status).toBe(415);
    expect(submitted.length).toBe(before);
  });

  it("refuses a body above the limit with 413", async () => {
    const { status, body } = await post("/v1/tasks", JSON.stringify({ question: "x".repeat(5000) }));
    expect(status).toBe(413);
    expect(body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers unknown routes with 404, wrong methods with 405, unknown tasks with 404", async () => {
    const missing = await fetch(`${base}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe("ROUTE_NOT_FOUND");
    const wrong = await fetch(`${base}/v1/tasks`, { method: "DELETE" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("POST");
    const unknownTask = await fetch(`${base}/v1/tasks/does-not-exist`);
    expect(unknownTask.status).toBe(404);
    expect(((await unknownTask.json()) as ErrorBody).error.code).toBe("NOT_FOUND");
    expect((await fetch(`${base}/v1/tasks/does-not-exist/events`)).status).toBe(404);
    expect((await fetch(`${base}/v1/tasks/bad%20id`)).status).toBe(400);
  });

  it("relays a task's events as SSE to a client that connects after they were published", async () => {
    const taskId = "late-1";
    records.set(taskId, record(taskId, "late?", "executing"));
    const events: TaskEvent[] = [
      { kind: "task-start", taskId, time: time(), question: "late?" },
      { kind: "tool-build-start", taskId, time: time(), round: 1, name: "add_numbers", description: "adds" },
      { kind: "tool-build-end", taskId, time: time(), round: 1, name: "add_numbers", ok: true },
      {
        kind: "task-end",
        taskId,
        time: time(),
        status: "succeeded",
        toolsUsed: ["add_numbers"],
        toolsCreated: ["add_numbers"],
        usage,
      },
    ];
    for (const event of events) await bus.publish(TaskEvents, event, { token: taskId });
    const response = await fetch(`${base}/v1/tasks/${taskId}/events`, {
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const received = await readEvents(response);
    expect(received.map((event) => event.event)).toEqual([
      "task-start",
      "tool-build-start",
      "tool-build-end",
      "task-end",
    ]);
    expect(received.map((event) => event.id)).toEqual(["1", "2", "3", "4"]);
    expect(received[1]?.data).toMatchObject({ name: "add_numbers" });

    // Resuming with Last-Event-ID sends only what came after it.
    const resumed = await readEvents(
      await fetch(`${base}/v1/tasks/${taskId}/events`, {
        headers: { "last-event-id": "2" },
        signal: AbortSignal.timeout(10_000),
      }),
    );
    expect(resumed.map((event) => event.id)).toEqual(["3", "4"]);
  });

  it("streams live events as they are published and ends the stream at task-end", async () => {
    const taskId = "live-1";
    records.set(taskId, record(taskId, "live?", "planning"));
    const response = await fetch(`${base}/v1/tasks/${taskId}/events`);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (needle: string): Promise<void> => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil(`: task ${taskId}`);
    await bus.publish(
      TaskEvents,
      { kind: "task-start", taskId, time: time(), question: "live?" },
      { token: taskId },
    );
    await readUntil("event: task-start");
    await bus.publish(
      TaskEvents,
      {
        kind: "task-end",
        taskId,
        time: time(),
        status: "failed",
        error: { code: "X", message: "y" },
        toolsUsed: [],
        toolsCreated: [],
        usage,
      },
      { token: taskId },
    );
    await readUntil("event: task-end");
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  });

  it("releases each event stream's server-side consumer within seconds of its client leaving", async () => {
    // SSE_CHURN=3000 for the figure in the issue; the default keeps CI fast.
    const churn = Number(process.env.SSE_CHURN ?? 150);
    const taskId = "churn-1";
    records.set(taskId, record(taskId, "churn?", "executing"));
    await bus.publish(
      TaskEvents,
      { kind: "task-start", taskId, time: time(), question: "churn?" },
      { token: taskId },
    );
    const monitor = await connect(natsConnectOptions(server.url));
    const jsm = await jetstreamManager(monitor);
    const stream = new Naming(prefix).stream(TaskEvents.stream!);
    const consumers = async () => (await jsm.streams.info(stream)).state.consumer_count;
    let peak = 0;
    for (let start = 0; start < churn; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, churn - start) }, async () => {
          const controller = new AbortController();
          const response = await fetch(`${base}/v1/tasks/${taskId}/events`, { signal: controller.signal });
          const reader = response.body!.getReader();
          let text = "";
          while (!text.includes("event: task-start")) {
            const { value, done } = await reader.read();
            if (done) break;
            text += new TextDecoder().decode(value);
          }
          controller.abort();
        }),
      );
      peak = Math.max(peak, await consumers());
    }
    const left = Date.now();
    let remaining = await consumers();
    while (remaining > 0 && Date.now() - left < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      remaining = await consumers();
    }
    console.info(
      `SSE churn: ${churn} connections, peak ${peak} consumers, ${remaining} left after ${Date.now() - left} ms`,
    );
    expect(remaining).toBe(0);
    await monitor.close();
  });

  it("rebuilds task-end from the record for a finished task whose events are gone", async () => {
    const taskId = "old-1";
    records.set(taskId, {
      ...record(taskId, "old?", "succeeded"),
      answer: { final_answer: "42", reasoning_summary: "r" },
    });
    const received = await readEvents(await fetch(`${base}/v1/tasks/${taskId}/events`));
    expect(received).toEqual([
      expect.objectContaining({
        event: "task-end",
        data: expect.objectContaining({
          status: "succeeded",
          answer: { final_answer: "42", reasoning_summary: "r" },
        }),
      }),
    ]);
  });

  it("lists tools, searches them, shows a tool's history and the metrics summary from the registry", async () => {
    expect(await (await fetch(`${base}/v1/tools`)).json()).toEqual({ snapshot: 3, total: 0, tools: [] });
    expect(await (await fetch(`${base}/v1/tools?limit=7`)).json()).toMatchObject({ total: 7 });
    expect(await (await fetch(`${base}/v1/tools?q=csv`)).json()).toMatchObject({ mode: "lexical", hits: [] });
    expect((await fetch(`${base}/v1/tools?limit=0`)).status).toBe(400);
    expect(await (await fetch(`${base}/v1/tools/search_web/history`)).json()).toEqual({
      name: "search_web",
      versions: [],
      events: [],
    });
    expect((await fetch(`${base}/v1/tools/NotATool/history`)).status).toBe(400);
    expect(await (await fetch(`${base}/v1/metrics/summary`)).json()).toEqual({
      librarySize: 4,
      toolsCreated: 4,
      toolCalls: 40,
      callsByOutcome: { success: 38, "execution-failure": 2 },
      egl: 0.1,
      successRate: 0.95,
      reuseRate: 0.5,
      tasksSeen: 6,
      snapshot: 3,
      topTools: [{ name: "search_web", calls: 20 }],
    });
  });

  it("counts requests by route pattern on /metrics", async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(
      /insitu_gateway_http_requests_total\{route="\/v1\/tasks",method="POST",status="202"[^}]*\} \d+/,
    );
    expect(text).not.toContain("does-not-exist");
  });
});

describe("gateway without the services behind it", () => {
  it("answers 503 UNAVAILABLE when no manager serves the subject", async () => {
    const lonely = (await runService(gatewayService, {
      env: {
        NATS_URL: server.url,
        NATS_PREFIX: `${prefix}-alone`,
        HTTP_PORT: "0",
        GATEWAY_SIGNING_KEY: generateSigningKey().privateKey,
        LOG_LEVEL: "error",
        GATEWAY_REQUEST_TIMEOUT_MS: "1000",
      },
      handleSignals: false,
    })) as RunningService<unknown>;
    try {
      const response = await fetch(`${lonely.httpUrl}/v1/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ question: "anyone?" }),
      });
      expect(response.status).toBe(503);
      expect(((await response.json()) as ErrorBody).error).toMatchObject({
        code: "UNAVAILABLE",
        retryable: true,
      });
    } finally {
      await lonely.shutdown();
    }
  });
});
