import { randomUUID } from "node:crypto";
import { type TaskEvent, type TaskRecord, isTerminalTaskStatus } from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { type AttachmentInput, checkAttachments } from "@insitu/files";
import type { GatewayBackend } from "../backend.js";
import { GatewayErrorCode } from "../errors.js";
import { sendJson } from "../http/respond.js";
import { defineRoute } from "../http/router.js";
import { SseStream, parseLastEventId } from "../http/sse.js";
import { readTaskBody } from "../http/task-body.js";
import {
  SubmitTaskBodySchema,
  TaskIdParamSchema,
  TaskListQuerySchema,
  parseInput,
  queryObject,
} from "../validation.js";
import type { GatewayRoute, RequestContext, RouteDeps } from "./route-kit.js";

/** `/v1/tasks`: submit (with attachments), list, one task, and its event stream. */
export function taskRoutes({ options, streams }: RouteDeps): GatewayRoute[] {
  const { backend } = options;
  const routes: GatewayRoute[] = [
    defineRoute("POST", "/v1/tasks", async ({ request, response }) => {
      const raw = await readTaskBody(request, options.taskBodyLimitBytes ?? options.bodyLimitBytes);
      const { attachments: encoded, ...body } = parseInput(SubmitTaskBodySchema, raw.fields, "body");
      const inputs: AttachmentInput[] = [
        ...(encoded ?? []).map((attachment) => ({
          name: attachment.name,
          bytes: new Uint8Array(Buffer.from(attachment.data, "base64")),
          ...(attachment.mediaType ? { declaredType: attachment.mediaType } : {}),
        })),
        ...raw.files,
      ];
      let submission: Parameters<GatewayBackend["submitTask"]>[0] = body;
      if (inputs.length > 0) {
        // Every attachment is checked before any is stored; a refused one fails the whole submit.
        const checked = checkAttachments(inputs);
        if (!backend.storeAttachments) {
          throw new InsituError("this gateway cannot store attachments", {
            code: "UNAVAILABLE",
            category: ErrorCategory.system,
          });
        }
        const taskId = body.taskId ?? `t-${randomUUID()}`;
        submission = { ...body, taskId, attachments: await backend.storeAttachments(taskId, checked) };
      }
      const submitted = await backend.submitTask(submission);
      sendJson(response, 202, {
        ...submitted,
        links: { self: `/v1/tasks/${submitted.taskId}`, events: `/v1/tasks/${submitted.taskId}/events` },
      });
    }),
    defineRoute("GET", "/v1/tasks", async ({ response, url }) => {
      const query = parseInput(TaskListQuerySchema, queryObject(url.searchParams), "query");
      sendJson(response, 200, await backend.listTasks(query.limit));
    }),
    defineRoute("GET", "/v1/tasks/:id", async ({ response, params }) => {
      const { id } = parseInput(TaskIdParamSchema, params, "path");
      sendJson(response, 200, await backend.getTask(id));
    }),
    defineRoute("GET", "/v1/tasks/:id/events", async (context) => {
      const { id } = parseInput(TaskIdParamSchema, context.params, "path");
      if (streams.size >= (options.maxStreams ?? 1000)) {
        throw new InsituError(`too many open event streams (${streams.size}); retry later`, {
          code: GatewayErrorCode.tooManyStreams,
          retryable: true,
          details: { limit: options.maxStreams ?? 1000 },
        });
      }
      // 404 for an unknown task before the stream opens (afterwards only events can be sent).
      const record = await backend.getTask(id);
      await streamTaskEvents(context, id, record);
    }),
  ];

  async function streamTaskEvents(
    context: RequestContext,
    taskId: string,
    record: TaskRecord,
  ): Promise<void> {
    const { request, response } = context;
    const skipThrough = parseLastEventId(request.headers["last-event-id"]);
    const stream = new SseStream(response, options.heartbeatMs);
    streams.add(stream);
    response.once("close", () => streams.delete(stream));
    stream.comment(`task ${taskId}`);
    let sequence = 0;
    let ended = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (graceTimer) clearTimeout(graceTimer);
      stop();
      stream.close();
    };
    const deliver = (event: TaskEvent): void => {
      if (ended || stream.isClosed) return;
      sequence += 1;
      if (sequence > skipThrough) stream.send({ id: sequence, event: event.kind, data: event });
      if (event.kind === "task-end") {
        ended = true;
        // Let the write flush before ending the response.
        setImmediate(finish);
      }
    };
    const stop = backend.followTaskEvents(taskId, deliver);
    response.once("close", () => {
      if (graceTimer) clearTimeout(graceTimer);
      stop();
    });
    if (isTerminalTaskStatus(record.status)) {
      graceTimer = setTimeout(() => {
        if (!ended) deliver(taskEndFromRecord(record));
      }, options.terminalGraceMs);
    }
  }

  return routes;
}

/** The `task-end` event a finished task would have published, rebuilt from its record. */
export function taskEndFromRecord(record: TaskRecord): TaskEvent {
  return {
    kind: "task-end",
    taskId: record.taskId,
    time: record.finishedAt ?? record.updatedAt,
    status: record.status,
    ...(record.answer ? { answer: record.answer } : {}),
    ...(record.error ? { error: record.error } : {}),
    toolsUsed: record.toolsUsed,
    toolsCreated: record.toolsCreated,
    usage: record.usage,
  };
}
