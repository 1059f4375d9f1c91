/**
 * Request/reply: requests (with liveness beats), `$SRV` services, and the handler of each request. Part of
 * NatsBus (nats-bus.ts): each function takes the bus first.
 */
import type { EndpointContract } from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError, type SerializedError } from "@insitu/errors";
import { formatTraceparent, startSpan, tracingEnabled } from "@insitu/telemetry";
import type { MsgHdrs } from "@nats-io/nats-core";
import { type ServiceMsg, Svcm } from "@nats-io/services";
import { decodeEnvelope, encodeEnvelope, encodeJson, parseBounded } from "./codec.js";
import { LivenessDefaults, startBeats } from "./liveness.js";
import { Semaphore } from "./semaphore.js";
import type {
  AnnounceDefinition,
  MessageContext,
  RequestOptions,
  ServedService,
  ServiceDefinition,
} from "./types.js";
import type { NatsBus } from "./nats-bus.js";
import { messageContext, traced } from "./bus-context.js";
import { PAYLOAD_REF_HEADER, inbound, outbound } from "./bus-offload.js";
import { guarded } from "./bus-permissions.js";

const SERVICE_ERROR_HEADER = "Nats-Service-Error";

function requestFailure(error: unknown, subject: string, timeoutMs: number): InsituError {
  const name = (error as Error)?.name ?? "";
  const message = (error as Error)?.message ?? String(error);
  const cause = (error as { cause?: Error }).cause;
  if (name === "TimeoutError" || cause?.name === "TimeoutError" || /timeout/i.test(message)) {
    return new InsituError(`no reply on ${subject} within ${timeoutMs} ms`, {
      code: ErrorCode.timeout,
      retryable: true,
      details: { subject, timeoutMs },
      cause: error,
    });
  }
  if (cause?.name === "NoRespondersError" || /no responders/i.test(message) || /503/.test(message)) {
    return new InsituError(`no service is serving ${subject}`, {
      code: ErrorCode.unavailable,
      retryable: true,
      details: { subject },
      cause: error,
    });
  }
  return new InsituError(`request on ${subject} failed: ${message}`, {
    code: ErrorCode.unavailable,
    retryable: true,
    details: { subject },
    cause: error,
  });
}

export async function request<C extends EndpointContract>(
  bus: NatsBus,
  contract: C,
  data: never,
  options: RequestOptions = {},
): Promise<never> {
  const subject = bus.naming.subject(contract.subject);
  // Tracing hook (docs/adr/0083): a client span when tracing is on, else the same ids as before.
  const span = startSpan(`request ${contract.subject}`, {
    kind: "client",
    parent: options.trace,
    attributes: {
      "messaging.system": "nats",
      "messaging.destination.name": subject,
      "insitu.task_id": options.taskId,
    },
  });
  const trace = span.trace;
  const body = encodeEnvelope(contract.request, data, {
    taskId: options.taskId,
    traceparent: formatTraceparent(trace),
  });
  const started = performance.now();
  const { bytes, headers } =
    body.byteLength <= bus.inlineLimit
      ? { bytes: body, headers: undefined }
      : await outbound(bus, body, trace);
  const timeoutMs = options.timeoutMs ?? bus.requestTimeoutMs;
  let reply: { data: Uint8Array; headers?: MsgHdrs };
  try {
    // Short requests keep the plain (multiplexed, header-free) path: their timeout is already
    // about as short as a liveness window would be.
    reply = await guarded(bus, subject, () =>
      bus.livenessWindowMs > 0 && timeoutMs > LivenessDefaults.thresholdMs
        ? bus.liveness.request({
            subject,
            data: bytes,
            headers,
            timeoutMs,
            windowMs: bus.livenessWindowMs,
          })
        : bus.connection.request(subject, bytes, { timeout: timeoutMs, headers }),
    );
  } catch (error) {
    const typed = error instanceof InsituError ? error : requestFailure(error, subject, timeoutMs);
    bus.metrics?.requests.inc({ subject: contract.subject, outcome: typed.code });
    span.end(typed);
    throw typed;
  } finally {
    bus.metrics?.duration.observe({ subject: contract.subject }, (performance.now() - started) / 1000);
  }
  const replyBytes = reply.headers?.get(PAYLOAD_REF_HEADER)
    ? await inbound(bus, reply.data, reply.headers)
    : reply.data;
  if (reply.headers?.get(SERVICE_ERROR_HEADER)) {
    const error = InsituError.fromJSON(parseBounded(replyBytes, bus.limits) as SerializedError);
    bus.metrics?.requests.inc({ subject: contract.subject, outcome: error.code });
    span.end(error);
    throw error;
  }
  const { data: response } = decodeEnvelope(replyBytes, contract.response, bus.limits);
  bus.metrics?.requests.inc({ subject: contract.subject, outcome: "ok" });
  span.end();
  return response as never;
}

export async function serve(bus: NatsBus, definition: ServiceDefinition): Promise<ServedService> {
  const svcm = new Svcm(bus.connection as never);
  const service = await svcm.add({
    name: definition.name,
    version: definition.version,
    description: definition.description,
    metadata: { prefix: bus.prefix },
    queue: definition.name,
  });
  if (!bus.servedByName.has(definition.name)) bus.servedByName.set(definition.name, service);
  const inFlight = new Set<Promise<void>>();
  for (const endpoint of definition.endpoints) {
    const semaphore = new Semaphore(definition.concurrency ?? 64);
    const contract = endpoint.contract;
    service.addEndpoint(contract.name, {
      subject: bus.naming.subject(contract.subject),
      metadata: { type: contract.request.type, version: String(contract.request.version) },
      handler: (error, message) => {
        if (error) {
          bus.logger.error("endpoint subscription failed", { endpoint: contract.name, error });
          return;
        }
        // Beats start on arrival, so a request waiting in line is known to be alive too.
        const stopBeats = startBeats(bus.connection, message);
        const job = semaphore
          .runNow(() => handleRequest(bus, contract, endpoint.handle, message))
          .finally(stopBeats);
        inFlight.add(job);
        void job.finally(() => inFlight.delete(job));
      },
    });
  }
  const stop = async (): Promise<void> => {
    await service.stop();
    await Promise.allSettled([...inFlight]);
  };
  bus.stoppers.add(stop);
  return {
    id: service.info().id,
    stop: async () => {
      bus.stoppers.delete(stop);
      await stop();
    },
  };
}

export async function announce(bus: NatsBus, definition: AnnounceDefinition): Promise<void> {
  let service = bus.servedByName.get(definition.name);
  if (!service) {
    service = await new Svcm(bus.connection as never).add({
      name: definition.name,
      version: definition.version,
      description: definition.description ?? "",
      metadata: { prefix: bus.prefix },
      queue: definition.name,
    });
    bus.servedByName.set(definition.name, service);
    const added = service;
    bus.stoppers.add(async () => {
      await added.stop();
    });
  }
  const body = encodeJson({ service: definition.name, ...definition.metadata });
  service.addEndpoint("status", {
    subject: bus.naming.subject(`status.${definition.name}`),
    metadata: { ...definition.metadata },
    handler: (error, message) => {
      if (!error) message.respond(body);
    },
  });
}

export async function handleRequest(
  bus: NatsBus,
  contract: EndpointContract,
  handle: (data: never, context: MessageContext) => Promise<unknown>,
  message: ServiceMsg,
): Promise<void> {
  let context: MessageContext | undefined;
  try {
    // The by-reference check is inlined so the common case takes no extra await.
    const bytes = message.headers?.get(PAYLOAD_REF_HEADER)
      ? await inbound(bus, message.data, message.headers)
      : message.data;
    let decoded: ReturnType<typeof decodeEnvelope>;
    try {
      decoded = decodeEnvelope(bytes, contract.request, bus.limits);
    } catch (error) {
      bus.metrics?.rejected.inc({ subject: contract.subject, code: InsituError.from(error).code });
      throw error;
    }
    context = messageContext(bus, decoded.envelope, message.subject, message.headers);
    const result = tracingEnabled()
      ? await traced(`handle ${contract.subject}`, "server", context, message.subject, () =>
          handle(decoded.data as never, context!),
        )
      : await handle(decoded.data as never, context);
    const body = encodeEnvelope(contract.response, result, {
      taskId: decoded.envelope.taskId,
      // The reply continues the caller's span: its traceparent is echoed as it came.
      traceparent: decoded.envelope.traceparent ?? formatTraceparent(context.trace),
    });
    if (body.byteLength <= bus.inlineLimit) {
      message.respond(body);
    } else {
      const { bytes: replyBytes, headers } = await outbound(bus, body, context.trace);
      message.respond(replyBytes, { headers });
    }
  } catch (error) {
    const typed = InsituError.from(error);
    if (typed.category !== ErrorCategory.user) {
      (context?.logger ?? bus.logger).error("request handler failed", {
        subject: message.subject,
        error: typed,
      });
    }
    const status = typed.category === ErrorCategory.user ? 400 : 500;
    message.respondError(status, `${typed.code}: ${typed.message}`.slice(0, 500), encodeJson(typed.toJSON()));
  }
}
