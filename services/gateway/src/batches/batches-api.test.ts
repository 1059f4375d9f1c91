import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { BatchRow, BatchRunView } from "@insitu/batch";
import { createLogger } from "@insitu/telemetry";
import { FakeResponse } from "../http/fake-response.js";
import { describe, expect, it } from "vitest";
import { createGatewayApi } from "../api.js";
import type { GatewayBackend, GatewayBatches } from "../backend.js";
import type { BatchSubmissionInput } from "./batch-body.js";

// Labelled FAKES: a batch store that records submits and whose run the test moves by hand, and
// request/response objects with just the surface node:http gives the handler. No network.

function request(method: string, url: string, body?: string, type = "application/x-ndjson"): IncomingMessage {
  const stream = Readable.from(body === undefined ? [] : [Buffer.from(body)]);
  return Object.assign(stream, {
    method,
    url,
    headers: { "content-type": type },
  }) as unknown as IncomingMessage;
}

function row(batch: number): BatchRow {
  return {
    batch,
    items: 2,
    created: 1,
    admitted: 1,
    merged: 0,
    rejectedMerges: 1,
    rejected: [{ members: ["a_b", "a_c"], stage: "review", reason: "replay differs" }],
    toolCalls: 2,
    egl: 0.5,
    eglCumulative: 0.5,
    succeeded: 2,
    successRate: 1,
    librarySize: 1,
    tokens: 10,
    costUsd: 0,
    wallMs: 5,
    snapshot: batch,
  };
}

function setup() {
  const submitted: BatchSubmissionInput[] = [];
  let view: BatchRunView | undefined;
  let notify: () => void = () => {};
  const batches: GatewayBatches = {
    async submit(input) {
      submitted.push(input);
      const created = view === undefined;
      view ??= {
        runId: input.runId,
        status: "queued",
        total: input.items.length,
        done: 0,
        batches: Math.ceil(input.items.length / input.settings.batchSize),
        batchSize: input.settings.batchSize,
        shareWithinBatch: input.settings.shareWithinBatch,
        warmStart: input.settings.warmStart,
        rows: [],
      };
      return { created, view };
    },
    get: async () => view,
    list: async () => (view ? [view] : []),
    predictions: async () => [],
    async watch(_runId, onChange) {
      notify = onChange;
      return { unsubscribe: () => {} };
    },
  };
  const api = createGatewayApi({
    backend: {} as GatewayBackend,
    batches,
    logger: createLogger({ service: "test", level: "error", write: () => {} }),
    bodyLimitBytes: 10_000,
    batchBodyLimitBytes: 2_000,
    heartbeatMs: 60_000,
    terminalGraceMs: 0,
  });
  const call = async (req: IncomingMessage) => {
    const response = new FakeResponse();
    api.handle(req, response as unknown as ServerResponse);
    await response.ended;
    return { status: response.statusCode, json: () => JSON.parse(response.body), body: response.body };
  };
  return {
    api,
    call,
    submitted,
    move(next: Partial<BatchRunView>) {
      if (!view) throw new Error("no run");
      view = { ...view, ...next };
      notify();
    },
  };
}

const LINES = '{"id": 1, "question": "a?"}\n{"id": 2, "question": "b?", "topic": "t"}\n';

describe("POST /v1/batches", () => {
  it("refuses bad input naming the line (JSONL) or the item (JSON), and starts nothing", async () => {
    const { call, submitted } = setup();
    const duplicate = await call(
      request("POST", "/v1/batches", '{"id": 1, "question": "a?"}\n{"id": "1", "question": "b?"}\n'),
    );
    expect(duplicate.status).toBe(400);
    expect(duplicate.json().error).toMatchObject({
      code: "BATCH_INPUT_INVALID",
      message: 'line 2: duplicate id "1" (first on line 1)',
    });
    const empty = await call(
      request(
        "POST",
        "/v1/batches",
        JSON.stringify({
          items: [
            { id: "a", question: "ok?" },
            { id: "b", question: " " },
          ],
        }),
        "application/json",
      ),
    );
    expect(empty.status).toBe(400);
    expect(empty.json().error.message).toBe('items[1]: the "question" is missing or empty');
    const notJson = await call(request("POST", "/v1/batches", '{"id": 1, "question": "a?"}\nnope\n'));
    expect(notJson.json().error.message).toMatch(/^line 2: not JSON/);
    const path = await call(
      request("POST", "/v1/batches", '{"id": 1, "question": "a?", "attachments": ["/etc/passwd"]}\n'),
    );
    expect(path.status).toBe(400);
    expect(path.json().error.message).toMatch(
      /^line 1: item "1": attachment "\/etc\/passwd" is a path; only data URIs/,
    );
    const options = await call(request("POST", "/v1/batches?batchSize=0", LINES));
    expect(options.status).toBe(400);
    expect(options.json().error.code).toBe("INVALID_REQUEST");
    const folder = await call(request("POST", "/v1/batches?warmStart=/tmp/lib", LINES));
    expect(folder.status).toBe(400);
    const type = await call(request("POST", "/v1/batches", LINES, "text/csv"));
    expect(type.status).toBe(415);
    const large = await call(
      request("POST", "/v1/batches", `${'{"id": 1, "question": "a?"}\n'.repeat(100)}`),
    );
    expect(large.status).toBe(413);
    expect(submitted).toEqual([]);
  });

  it("accepts JSONL with options in the query and JSON with options beside the items, as the same run", async () => {
    const { call, submitted } = setup();
    const first = await call(
      request("POST", "/v1/batches?batchSize=1&shareWithinBatch=true&warmStart=zero", LINES),
    );
    expect(first.status).toBe(202);
    expect(first.json()).toMatchObject({
      status: "queued",
      total: 2,
      batches: 2,
      links: { events: expect.stringMatching(/\/events$/) },
    });
    expect(submitted[0]?.settings).toEqual({
      batchSize: 1,
      concurrency: 1,
      shareWithinBatch: true,
      warmStart: "zero",
    });
    expect(submitted[0]?.items[1]).toMatchObject({ id: "2", extra: { topic: "t" } });
    const again = await call(
      request(
        "POST",
        "/v1/batches",
        JSON.stringify({
          items: [
            { id: 1, question: "a?" },
            { id: 2, question: "b?", topic: "t" },
          ],
          batchSize: 1,
          shareWithinBatch: true,
          warmStart: "zero",
        }),
        "application/json",
      ),
    );
    expect(again.status).toBe(200);
    expect(submitted[1]?.runId).toBe(submitted[0]?.runId);
    // Over HTTP the library is not emptied unless asked (warm start defaults to the current one).
    await call(request("POST", "/v1/batches", LINES));
    expect(submitted[2]?.settings.warmStart).toBe("current");
    expect(submitted[2]?.runId).not.toBe(submitted[0]?.runId);
  });
});

describe("GET /v1/batches/:id and its events", () => {
  it("404s an unknown run and streams progress, one event per finished batch, then done", async () => {
    const { call, api, move } = setup();
    expect((await call(request("GET", "/v1/batches/0123456789ab"))).status).toBe(404);
    expect((await call(request("GET", "/v1/batches/not-an-id"))).status).toBe(400);
    const runId = (await call(request("POST", "/v1/batches?batchSize=1", LINES))).json().runId as string;
    const response = new FakeResponse();
    api.handle(request("GET", `/v1/batches/${runId}/events`), response as unknown as ServerResponse);
    await new Promise((resolve) => setTimeout(resolve, 20));
    move({ status: "running", done: 1, phase: "barrier" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    move({ rows: [row(1)], done: 1, phase: "tasks" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    move({ rows: [row(1), row(2)], done: 2, status: "done" });
    await response.ended;
    const events = [...response.body.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((match) => [
      match[1],
      JSON.parse(match[2]!),
    ]);
    expect(events.map(([kind]) => kind)).toEqual([
      "progress",
      "progress",
      "batch",
      "progress",
      "batch",
      "progress",
      "done",
    ]);
    expect(events[2]?.[1]).toMatchObject({ batch: 1, rejected: [{ reason: "replay differs" }] });
    expect(events.at(-1)?.[1]).toMatchObject({ status: "done", done: 2, total: 2 });
    const got = (await call(request("GET", `/v1/batches/${runId}`))).json();
    expect(got.rows).toHaveLength(2);
    const list = (await call(request("GET", "/v1/batches"))).json();
    expect(list.batches[0]).toMatchObject({ runId, batchesDone: 2 });
    expect(list.batches[0].rows).toBeUndefined();
  });
});
