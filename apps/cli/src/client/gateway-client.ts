import { type TaskEvent, TaskEventSchema, type TaskRecord, type TaskStatus } from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { SseParser } from "./sse-parser.js";

/** A thin client of the gateway's HTTP API (used by `ask`, `demo` and the e2e tests). */
export class GatewayClient {
  /** `token`: the gateway's GATEWAY_API_TOKEN, sent as a bearer token (default: $INSITU_GATEWAY_TOKEN). */
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined = process.env.INSITU_GATEWAY_TOKEN,
  ) {}

  private auth(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  async submitTask(body: {
    question: string;
    options?: {
      budgets?: { rounds?: number; tokens?: number; costUsd?: number; wallMs?: number };
      /** When a tool it asked for waits for review: go on without it, or wait (ADR 0130). */
      onReview?: "continue" | "wait";
    };
    taskId?: string;
    /** Files, base64; the gateway checks and sniffs them. */
    attachments?: { name: string; data: string; mediaType?: string }[];
  }): Promise<{ taskId: string; status: TaskStatus }> {
    return (await this.json("POST", "/v1/tasks", body)) as { taskId: string; status: TaskStatus };
  }

  async getTask(taskId: string): Promise<TaskRecord> {
    return (await this.json("GET", `/v1/tasks/${encodeURIComponent(taskId)}`)) as TaskRecord;
  }

  /** The library, or the ranked tools for `query`. */
  async listTools(query?: string): Promise<unknown> {
    return this.json("GET", query ? `/v1/tools?q=${encodeURIComponent(query)}` : "/v1/tools");
  }

  /** Versions waiting for review (or approved / rejected ones). */
  async listReviews(state?: "pending" | "approved" | "rejected"): Promise<unknown> {
    return this.json("GET", state ? `/v1/reviews?state=${state}` : "/v1/reviews");
  }

  /** One whole version: code, tests, permissions, review, requesting task. */
  async getVersion(hash: string): Promise<unknown> {
    return this.json("GET", `/v1/versions/${encodeURIComponent(hash)}`);
  }

  async decideReview(
    hash: string,
    body: { decision: "approve" | "deny"; by: string; reason: string },
  ): Promise<unknown> {
    return this.json("POST", `/v1/reviews/${encodeURIComponent(hash)}/decision`, body);
  }

  async metricsSummary(): Promise<Record<string, unknown>> {
    return (await this.json("GET", "/v1/metrics/summary")) as Record<string, unknown>;
  }

  /**
   * Follows a task's events until `task-end` (resolved with it). A dropped connection is resumed
   * with Last-Event-ID, so nothing is shown twice and nothing is missed.
   */
  async followEvents(
    taskId: string,
    onEvent: (event: TaskEvent) => void,
    options: { signal?: AbortSignal; maxReconnects?: number } = {},
  ): Promise<TaskEvent & { kind: "task-end" }> {
    let lastEventId: string | undefined;
    let reconnects = 0;
    for (;;) {
      const headers: Record<string, string> = { accept: "text/event-stream", ...this.auth() };
      if (lastEventId) headers["last-event-id"] = lastEventId;
      let response: Response;
      try {
        response = await fetch(this.url(`/v1/tasks/${encodeURIComponent(taskId)}/events`), {
          headers,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        if (++reconnects > (options.maxReconnects ?? 20)) throw unreachable(this.baseUrl, error);
        await delay(Math.min(2000, 200 * reconnects));
        continue;
      }
      if (!response.ok) throw await httpError(response);
      const parser = new SseParser();
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
            lastEventId = message.id ?? lastEventId;
            const parsed = TaskEventSchema.safeParse(safeJson(message.data));
            if (!parsed.success) continue;
            onEvent(parsed.data);
            if (parsed.data.kind === "task-end") return parsed.data;
          }
        }
      } catch (error) {
        if (options.signal?.aborted) throw error;
      }
      if (++reconnects > (options.maxReconnects ?? 20)) {
        throw new InsituError("the event stream ended before the task did", {
          code: "STREAM_ENDED",
          retryable: true,
        });
      }
      await delay(Math.min(2000, 200 * reconnects));
    }
  }

  private url(path: string): string {
    return new URL(path, this.baseUrl.endsWith("/") ? this.baseUrl : `${this.baseUrl}/`).toString();
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.url(path.replace(/^\//, "")), {
        method,
        headers: { ...this.auth(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    if (!response.ok) throw await httpError(response);
    return response.json();
  }
}

async function httpError(response: Response): Promise<InsituError> {
  const text = await response.text().catch(() => "");
  const parsed = safeJson(text) as
    | { error?: { code?: string; message?: string; details?: Record<string, never> } }
    | undefined;
  const error = parsed?.error;
  return new InsituError(error?.message ?? `gateway answered HTTP ${response.status}`, {
    code: error?.code && /^[A-Z][A-Z0-9_]*$/.test(error.code) ? error.code : `HTTP_${response.status}`,
    category: response.status < 500 ? ErrorCategory.user : ErrorCategory.system,
    retryable: response.status >= 500,
    details: { status: response.status, ...(error?.details ?? {}) },
  });
}

function unreachable(baseUrl: string, error: unknown): InsituError {
  return new InsituError(
    `cannot reach the gateway at ${baseUrl} — is the stack running? Start it with \`insitu up\``,
    {
      code: "GATEWAY_UNREACHABLE",
      category: ErrorCategory.user,
      retryable: true,
      details: { baseUrl },
      cause: error,
    },
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
