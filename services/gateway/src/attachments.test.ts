import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { AttachmentRef } from "@insitu/contracts";
import type { CheckedAttachment } from "@insitu/files";
import { createLogger } from "@insitu/telemetry";
import { describe, expect, it } from "vitest";
import { createGatewayApi } from "./api.js";
import type { GatewayBackend, TaskSubmission } from "./backend.js";

// POST /v1/tasks with attachments, against a labelled FAKE backend (records what it is asked to
// store and submit) and minimal request/response objects. No socket, no network.

const png = readFileSync(
  fileURLToPath(new URL("../../../test/fixtures/files/red-square.png", import.meta.url)),
);

class FakeResponse extends EventEmitter {
  statusCode = 200;
  headers: Record<string, string | number> = {};
  body = "";
  headersSent = false;
  writableEnded = false;
  readonly ended = new Promise<void>((resolve) => this.once("close", () => resolve()));
  setHeader(name: string, value: string | number) {
    this.headers[name.toLowerCase()] = value;
  }
  writeHead(status: number, headers: Record<string, string | number> = {}) {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    this.headersSent = true;
    return this;
  }
  write(chunk: string) {
    this.body += chunk;
    return true;
  }
  end(chunk?: string) {
    if (chunk) this.body += chunk;
    this.writableEnded = true;
    this.emit("close");
  }
}

function setup(limits: { bodyLimitBytes?: number; taskBodyLimitBytes?: number } = {}) {
  const stored: { taskId: string; attachments: CheckedAttachment[] }[] = [];
  const submitted: TaskSubmission[] = [];
  const backend = {
    async submitTask(input: TaskSubmission) {
      submitted.push(input);
      return { taskId: input.taskId ?? "t-generated", status: "queued" as const };
    },
    async storeAttachments(taskId: string, attachments: CheckedAttachment[]): Promise<AttachmentRef[]> {
      stored.push({ taskId, attachments });
      return attachments.map((file) => ({
        name: file.name,
        mediaType: file.mediaType,
        size: file.bytes.byteLength,
        digest: "sha256:fake",
      }));
    },
  } as unknown as GatewayBackend;
  const api = createGatewayApi({
    backend,
    logger: createLogger({ service: "test", level: "error" }),
    bodyLimitBytes: limits.bodyLimitBytes ?? 1024,
    taskBodyLimitBytes: limits.taskBodyLimitBytes ?? 1024 * 1024,
    heartbeatMs: 60_000,
    terminalGraceMs: 0,
  });
  const post = async (body: Buffer, contentType: string) => {
    const request = Object.assign(Readable.from([body]), {
      method: "POST",
      url: "/v1/tasks",
      headers: { "content-type": contentType, "content-length": String(body.length) },
    }) as unknown as IncomingMessage;
    const response = new FakeResponse();
    api.handle(request, response as unknown as ServerResponse);
    await response.ended;
    return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
  };
  return { post, stored, submitted };
}

async function multipart(form: FormData): Promise<{ body: Buffer; type: string }> {
  const request = new Request("http://x/", { method: "POST", body: form });
  return { body: Buffer.from(await request.arrayBuffer()), type: request.headers.get("content-type") ?? "" };
}

describe("POST /v1/tasks with attachments", () => {
  it("multipart: files are checked, stored under the task, and only references are submitted", async () => {
    const { post, stored, submitted } = setup();
    const form = new FormData();
    form.append("question", "What colour?");
    form.append("options", JSON.stringify({ budgets: { rounds: 2 } }));
    form.append("file", new Blob([png], { type: "image/png" }), "square.png");
    const { body, type } = await multipart(form);
    const answer = await post(body, type);
    expect(answer.status).toBe(202);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.attachments.map((file) => [file.name, file.mediaType])).toEqual([
      ["square.png", "image/png"],
    ]);
    expect(submitted[0]).toEqual({
      question: "What colour?",
      options: { budgets: { rounds: 2 } },
      taskId: stored[0]?.taskId,
      attachments: [
        { name: "square.png", mediaType: "image/png", size: png.byteLength, digest: "sha256:fake" },
      ],
    });
    expect(answer.body.taskId).toBe(stored[0]?.taskId);
  });

  it("JSON: a base64 attachment whose declared type lies is refused before anything is stored", async () => {
    const { post, stored, submitted } = setup();
    const body = Buffer.from(
      JSON.stringify({
        question: "q",
        attachments: [{ name: "doc.pdf", mediaType: "application/pdf", data: png.toString("base64") }],
      }),
    );
    const answer = await post(body, "application/json");
    expect(answer.status).toBe(415);
    expect(answer.body).toMatchObject({ error: { code: "ATTACHMENT_TYPE_MISMATCH" } });
    expect(stored).toEqual([]);
    expect(submitted).toEqual([]);
  });

  it("the task route has its own body cap; bad base64 is a field error", async () => {
    const { post } = setup({ taskBodyLimitBytes: 2048 });
    const big = Buffer.from(
      JSON.stringify({ question: "q", attachments: [{ name: "a.bin", data: "A".repeat(4096) }] }),
    );
    expect((await post(big, "application/json")).status).toBe(413);
    const bad = await post(
      Buffer.from(JSON.stringify({ question: "q", attachments: [{ name: "a.bin", data: "%%%" }] })),
      "application/json",
    );
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("body.attachments.0.data");
  });
});
