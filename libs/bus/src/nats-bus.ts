import { randomUUID } from "node:crypto";
import {
  ADMIN_USER,
  type EndpointContract,
  type EventContract,
  type MessageContract,
  type WorkQueueContract,
} from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError, type SerializedError } from "@insitu/errors";
import {
  createLogger,
  formatTraceparent,
  type Logger,
  MetricName,
  newTrace,
  parseTraceparent,
  startSpan,
  type TraceContext,
  tracingEnabled,
  withTrace,
} from "@insitu/telemetry";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { headers as createHeaders, nanos } from "@nats-io/nats-core";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";
import { Counter, Histogram, type Registry } from "prom-client";
import {
  DEFAULT_LIMITS,
  type DecodeLimits,
  decodeBareEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  encodeJson,
  parseBounded,
} from "./codec.js";
import { LivenessDefaults, LivenessRequester, startBeats } from "./liveness.js";
import { inboxPrefixFor, natsConnectOptions, redactUrl } from "./auth.js";
import { Naming } from "./naming.js";
import { Semaphore } from "./semaphore.js";
import type {
  AnnounceDefinition,
  Bus,
  BusHealth,
  ConsumeOptions,
  Consumer,
  DeadLetter,
  EnqueueOptions,
  KvBucket,
  KvOptions,
  MessageContext,
  ObjectBucket,
  ObjectBucketOptions,
  PublishOptions,
  RequestOptions,
  ServedService,
  ServiceDefinition,
  Subscription,
  WorkContext,
} from "./types.js";

export interface BusOptions {
  /** NATS server URL(s); comma-separated allowed. */
  url: string;
  /** Connection name, shown in `/connz` and used in logs. */
  name: string;
  /** Subject prefix (default `insitu`); tests use a unique prefix each. */
  prefix?: string;
  /** Inbound limits checked before parsing. */
  limits?: Partial<DecodeLimits>;
  /**
   * Encoded payloads above this size travel by reference through the Object Store
   * (default 256 KiB, far below the server's 1 MiB max_payload).
   */
  inlineLimitBytes?: number;
  /** Default request timeout. */
  requestTimeoutMs?: number;
  /**
   * Requests with a timeout above 10 s ask the responder for liveness beats and fail with a
   * retryable UNAVAILABLE ("peer lost") once no beat came for this long (default 5 s; 0 turns the
   * beats off). See docs/adr/0093.
   */
  livenessWindowMs?: number;
  logger?: Logger;
  metrics?: Registry;
  /**
   * Replicas of the streams, KV buckets and object stores this bus creates (R1 on one server, R3
   * on a 3-node cluster). Default: `NATS_JS_REPLICAS`, else 1. Existing streams keep theirs.
   */
  replicas?: number;
  /**
   * Bus user and password (docs/adr/0120). When omitted: the URL's (`nats://user:pass@host`),
   * else `NATS_USER` / `NATS_PASSWORD`, else none.
   */
  user?: string;
  password?: string;
}

/** `NATS_JS_REPLICAS` (1–5), the JetStream replica count for what the services create. */
export function jetStreamReplicas(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.NATS_JS_REPLICAS;
  if (raw === undefined || raw === "") return 1;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 5) {
    throw new InsituError(`NATS_JS_REPLICAS must be an integer from 1 to 5, got "${raw}"`, {
      code: ErrorCode.invalidConfig,
      category: ErrorCategory.user,
      details: { NATS_JS_REPLICAS: raw },
    });
  }
  return value;
}

/**
 * The dead-letter stream is bounded so a flood of poison work cannot fill the disk: the oldest
 * letters go first once either bound is reached (operators list and retry with `insitu dlq`).
 */
export const DEAD_LETTER_LIMITS = {
  retention: RetentionPolicy.Limits,
  max_age: nanos(30 * 24 * 3600 * 1000),
  max_msgs: 10_000,
  max_bytes: 256 * 1024 * 1024,
  discard: DiscardPolicy.Old,
} as const;

/** Headers of a quarantined entry (the body is its raw bytes, cut at QUARANTINE_MAX_BYTES). */
export const QUARANTINE_HEADERS = {
  bucket: "Insitu-Quarantine-Bucket",
  key: "Insitu-Quarantine-Key",
  revision: "Insitu-Quarantine-Revision",
  reason: "Insitu-Quarantine-Reason",
  size: "Insitu-Quarantine-Size",
} as const;
const QUARANTINE_MAX_BYTES = 512 * 1024;
export const BAD_ENTRIES_METRIC = "insitu_bad_entries_total";

const PAYLOAD_REF_HEADER = "Insitu-Payload-Ref";
const TRACEPARENT_HEADER = "traceparent";
const SERVICE_ERROR_HEADER = "Nats-Service-Error";
const PAYLOAD_BUCKET = "payloads";

interface PayloadReference {
  bucket: string;
  name: string;
  size: number;
}

export async function connectBus(options: BusOptions): Promise<Bus> {
  const auth = natsConnectOptions(options.url, { user: options.user, password: options.password });
  const user = auth.user;
  const where = redactUrl(options.url);
  const connection = await connect({
    ...auth,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    // nats.js builds an Error per request to keep the caller's stack for a later timeout; that
    // costs ~20 µs a request here. Our timeouts are typed errors naming the subject instead.
    noAsyncTraces: true,
  }).catch((error: unknown) => {
    if (isAuthError(error)) {
      throw new InsituError(
        user === undefined
          ? `NATS at ${where} refused the connection: it requires a user and password (set NATS_USER and NATS_PASSWORD, or put them in the URL)`
          : `NATS at ${where} refused user "${user}": wrong password or unknown user`,
        {
          code: ErrorCode.busUnauthorized,
          category: ErrorCategory.user,
          retryable: false,
          details: { url: where, ...(user === undefined ? {} : { user }) },
          cause: error,
        },
      );
    }
    throw new InsituError(`cannot connect to NATS at ${where}: ${(error as Error).message}`, {
      code: ErrorCode.unavailable,
      category: ErrorCategory.system,
      retryable: true,
      details: { url: where },
      cause: error,
    });
  });
  return new NatsBus(connection, options, user);
}

function isAuthError(error: unknown): boolean {
  for (let current = error as Error | undefined; current; current = (current as { cause?: Error }).cause) {
    if (
      current.name === "AuthorizationError" ||
      /authorization violation|authentication/i.test(current.message)
    )
      return true;
    if ((current as { cause?: unknown }).cause === current) break;
  }
  return false;
}

class NatsBus implements Bus {
  readonly prefix: string;
  readonly name: string;
  private readonly naming: Naming;
  private readonly limits: DecodeLimits;
  private readonly inlineLimit: number;
  private readonly requestTimeoutMs: number;
  private readonly livenessWindowMs: number;
  private readonly liveness: LivenessRequester;
  private readonly replicas: number;
  private readonly logger: Logger;
  private readonly js: JetStreamClient;
  private jsmPromise?: Promise<JetStreamManager>;
  private readonly ensuredStreams = new Map<string, Promise<void>>();
  private payloadStore?: Promise<ObjectStore>;
  private readonly stoppers = new Set<() => Promise<void>>();
  /** The first `$SRV` service this connection serves under each name (announce joins it). */
  private readonly servedByName = new Map<string, Service>();
  private readonly metrics?: {
    requests: Counter<"subject" | "outcome">;
    duration: Histogram<"subject">;
    rejected: Counter<"subject" | "code">;
    deadLetters: Counter<"subject">;
    badEntries: Counter<"bucket">;
  };
  /** Bad entries already logged (bucket/key@revision): a re-read must not flood the log. */
  private readonly reportedBadEntries = new Set<string>();

  /** Pending sends per subject, failed at once when the server refuses that subject (ADR 0120). */
  private readonly pendingBySubject = new Map<string, Set<(error: InsituError) => void>>();

  /** Pending JetStream API calls on one stream, failed at once when the server refuses one (ADR 0171). */
  private readonly pendingApi = new Set<{ stream: string; fail: (error: InsituError) => void }>();

  constructor(
    private readonly connection: NatsConnection,
    options: BusOptions,
    private readonly user?: string,
  ) {
    this.prefix = options.prefix ?? "insitu";
    this.name = options.name;
    this.naming = new Naming(this.prefix);
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.inlineLimit = options.inlineLimitBytes ?? 256 * 1024;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.livenessWindowMs = options.livenessWindowMs ?? LivenessDefaults.windowMs;
    this.replicas = options.replicas ?? jetStreamReplicas();
    this.logger = options.logger ?? createLogger({ service: options.name });
    this.js = jetstream(connection);
    this.liveness = new LivenessRequester(connection, user === undefined ? undefined : inboxPrefixFor(user));
    this.watchPermissionViolations();
    if (options.metrics) {
      const registers = [options.metrics];
      this.metrics = {
        requests: new Counter({
          name: MetricName.busRequestsTotal,
          help: "Requests sent through the bus, by subject and outcome (ok or error code).",
          labelNames: ["subject", "outcome"],
          registers,
        }),
        duration: new Histogram({
          name: MetricName.busRequestDurationSeconds,
          help: "Round-trip time of bus requests in seconds.",
          labelNames: ["subject"],
          buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
          registers,
        }),
        rejected: new Counter({
          name: MetricName.busRejectedMessagesTotal,
          help: "Inbound messages refused before reaching a handler, by subject and error code.",
          labelNames: ["subject", "code"],
          registers,
        }),
        deadLetters: new Counter({
          name: MetricName.busDeadLettersTotal,
          help: "Work items moved to the dead-letter stream.",
          labelNames: ["subject"],
          registers,
        }),
        badEntries: new Counter({
          name: BAD_ENTRIES_METRIC,
          help: "Stored entries (KV, stream, object) that failed to decode: skipped and moved to the quarantine.",
          labelNames: ["bucket"],
          registers,
        }),
      };
    }
  }

  // ---------------------------------------------------------------- permissions

  /**
   * nats-server answers a publish this user may not make with an asynchronous `-ERR Permissions
   * Violation` and drops the message: a request would only time out. Every violation is logged
   * with the user and subject, and whatever is waiting on that subject fails with BUS_FORBIDDEN.
   */
  private watchPermissionViolations(): void {
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type !== "error") continue;
        const error = status.error as Error & { operation?: string; subject?: string };
        if (error.name !== "PermissionViolationError") continue;
        const typed = forbidden(this.user, error.operation ?? "publish", error.subject ?? "", error);
        this.logger.error("bus permission denied", {
          user: this.user ?? "(none)",
          operation: error.operation ?? "publish",
          subject: error.subject ?? "",
        });
        for (const fail of this.pendingBySubject.get(error.subject ?? "") ?? []) fail(typed);
        for (const pending of this.pendingApi) {
          if (apiSubjectNames(error.subject ?? "", pending.stream)) pending.fail(typed);
        }
      }
    })().catch(() => undefined);
  }

  /** Runs a send on `subject`, failing it with BUS_FORBIDDEN as soon as the server refuses that subject. */
  private guarded<T>(subject: string, send: () => Promise<T>): Promise<T> {
    let fail: ((error: InsituError) => void) | undefined;
    const refused = new Promise<never>((_, reject) => {
      fail = reject;
    });
    let waiting = this.pendingBySubject.get(subject);
    if (!waiting) {
      waiting = new Set();
      this.pendingBySubject.set(subject, waiting);
    }
    const set = waiting;
    let violation: InsituError | undefined;
    const onViolation = (error: InsituError) => {
      violation = error;
      fail?.(error);
    };
    set.add(onViolation);
    const sent = send().catch(async (error: unknown) => {
      // The server may answer "no responders" before its -ERR is read: a PING round trip makes
      // sure any violation it sent for this publish has been seen.
      if (!violation) await this.connection.flush().catch(() => undefined);
      throw violation ?? error;
    });
    return Promise.race([sent, refused]).finally(() => {
      set.delete(onViolation);
      if (set.size === 0) this.pendingBySubject.delete(subject);
    });
  }

  /**
   * Runs JetStream API calls on `stream` (open a stream, bucket or consumer), failing them with
   * BUS_FORBIDDEN as soon as the server refuses one of that stream's API subjects: without this a
   * refused `$JS.API` request only times out (ADR 0171).
   */
  private guardedApi<T>(stream: string, send: () => Promise<T>): Promise<T> {
    let violation: InsituError | undefined;
    let fail: ((error: InsituError) => void) | undefined;
    const refused = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const pending = {
      stream,
      fail: (error: InsituError) => {
        violation = error;
        fail?.(error);
      },
    };
    this.pendingApi.add(pending);
    const sent = send().catch(async (error: unknown) => {
      if (!violation) await this.connection.flush().catch(() => undefined);
      throw violation ?? error;
    });
    return Promise.race([sent, refused]).finally(() => this.pendingApi.delete(pending));
  }

  // ---------------------------------------------------------------- request/reply

  async request<C extends EndpointContract>(
    contract: C,
    data: never,
    options: RequestOptions = {},
  ): Promise<never> {
    const subject = this.naming.subject(contract.subject);
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
      body.byteLength <= this.inlineLimit
        ? { bytes: body, headers: undefined }
        : await this.outbound(body, trace);
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    let reply: { data: Uint8Array; headers?: MsgHdrs };
    try {
      // Short requests keep the plain (multiplexed, header-free) path: their timeout is already
      // about as short as a liveness window would be.
      reply = await this.guarded(subject, () =>
        this.livenessWindowMs > 0 && timeoutMs > LivenessDefaults.thresholdMs
          ? this.liveness.request({
              subject,
              data: bytes,
              headers,
              timeoutMs,
              windowMs: this.livenessWindowMs,
            })
          : this.connection.request(subject, bytes, { timeout: timeoutMs, headers }),
      );
    } catch (error) {
      const typed = error instanceof InsituError ? error : requestFailure(error, subject, timeoutMs);
      this.metrics?.requests.inc({ subject: contract.subject, outcome: typed.code });
      span.end(typed);
      throw typed;
    } finally {
      this.metrics?.duration.observe({ subject: contract.subject }, (performance.now() - started) / 1000);
    }
    const replyBytes = reply.headers?.get(PAYLOAD_REF_HEADER)
      ? await this.inbound(reply.data, reply.headers)
      : reply.data;
    if (reply.headers?.get(SERVICE_ERROR_HEADER)) {
      const error = InsituError.fromJSON(parseBounded(replyBytes, this.limits) as SerializedError);
      this.metrics?.requests.inc({ subject: contract.subject, outcome: error.code });
      span.end(error);
      throw error;
    }
    const { data: response } = decodeEnvelope(replyBytes, contract.response, this.limits);
    this.metrics?.requests.inc({ subject: contract.subject, outcome: "ok" });
    span.end();
    return response as never;
  }

  async serve(definition: ServiceDefinition): Promise<ServedService> {
    const svcm = new Svcm(this.connection as never);
    const service = await svcm.add({
      name: definition.name,
      version: definition.version,
      description: definition.description,
      metadata: { prefix: this.prefix },
      queue: definition.name,
    });
    if (!this.servedByName.has(definition.name)) this.servedByName.set(definition.name, service);
    const inFlight = new Set<Promise<void>>();
    for (const endpoint of definition.endpoints) {
      const semaphore = new Semaphore(definition.concurrency ?? 64);
      const contract = endpoint.contract;
      service.addEndpoint(contract.name, {
        subject: this.naming.subject(contract.subject),
        metadata: { type: contract.request.type, version: String(contract.request.version) },
        handler: (error, message) => {
          if (error) {
            this.logger.error("endpoint subscription failed", { endpoint: contract.name, error });
            return;
          }
          // Beats start on arrival, so a request waiting in line is known to be alive too.
          const stopBeats = startBeats(this.connection, message);
          const job = semaphore
            .runNow(() => this.handleRequest(contract, endpoint.handle, message))
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
    this.stoppers.add(stop);
    return {
      id: service.info().id,
      stop: async () => {
        this.stoppers.delete(stop);
        await stop();
      },
    };
  }

  async announce(definition: AnnounceDefinition): Promise<void> {
    let service = this.servedByName.get(definition.name);
    if (!service) {
      service = await new Svcm(this.connection as never).add({
        name: definition.name,
        version: definition.version,
        description: definition.description ?? "",
        metadata: { prefix: this.prefix },
        queue: definition.name,
      });
      this.servedByName.set(definition.name, service);
      const added = service;
      this.stoppers.add(async () => {
        await added.stop();
      });
    }
    const body = encodeJson({ service: definition.name, ...definition.metadata });
    service.addEndpoint("status", {
      subject: this.naming.subject(`status.${definition.name}`),
      metadata: { ...definition.metadata },
      handler: (error, message) => {
        if (!error) message.respond(body);
      },
    });
  }

  private async handleRequest(
    contract: EndpointContract,
    handle: (data: never, context: MessageContext) => Promise<unknown>,
    message: ServiceMsg,
  ): Promise<void> {
    let context: MessageContext | undefined;
    try {
      // The by-reference check is inlined so the common case takes no extra await.
      const bytes = message.headers?.get(PAYLOAD_REF_HEADER)
        ? await this.inbound(message.data, message.headers)
        : message.data;
      let decoded: ReturnType<typeof decodeEnvelope>;
      try {
        decoded = decodeEnvelope(bytes, contract.request, this.limits);
      } catch (error) {
        this.metrics?.rejected.inc({ subject: contract.subject, code: InsituError.from(error).code });
        throw error;
      }
      context = this.context(decoded.envelope, message.subject, message.headers);
      const result = tracingEnabled()
        ? await this.traced(`handle ${contract.subject}`, "server", context, message.subject, () =>
            handle(decoded.data as never, context!),
          )
        : await handle(decoded.data as never, context);
      const body = encodeEnvelope(contract.response, result, {
        taskId: decoded.envelope.taskId,
        // The reply continues the caller's span: its traceparent is echoed as it came.
        traceparent: decoded.envelope.traceparent ?? formatTraceparent(context.trace),
      });
      if (body.byteLength <= this.inlineLimit) {
        message.respond(body);
      } else {
        const { bytes: replyBytes, headers } = await this.outbound(body, context.trace);
        message.respond(replyBytes, { headers });
      }
    } catch (error) {
      const typed = InsituError.from(error);
      if (typed.category !== ErrorCategory.user) {
        (context?.logger ?? this.logger).error("request handler failed", {
          subject: message.subject,
          error: typed,
        });
      }
      const status = typed.category === ErrorCategory.user ? 400 : 500;
      message.respondError(
        status,
        `${typed.code}: ${typed.message}`.slice(0, 500),
        encodeJson(typed.toJSON()),
      );
    }
  }

  // ---------------------------------------------------------------- events

  async publish<C extends EventContract>(
    contract: C,
    data: never,
    options: PublishOptions = {},
  ): Promise<void> {
    const subject = this.naming.subject(fillToken(contract.subject, options.token));
    const span = startSpan(`publish ${contract.subject}`, { kind: "producer", parent: options.trace });
    span.end();
    const trace = span.trace;
    const parsed = contract.message.schema.safeParse(data);
    if (!parsed.success) {
      throw new InsituError(`refusing to publish an invalid ${contract.message.type}`, {
        code: ErrorCode.invalidMessage,
        details: { issues: parsed.error.issues.slice(0, 10).map((issue) => issue.message) },
      });
    }
    const body = encodeEnvelope(contract.message, parsed.data, {
      taskId: options.taskId,
      traceparent: formatTraceparent(trace),
    });
    const { bytes, headers } = await this.outbound(body, trace);
    if (contract.stream) {
      await this.ensureEventStream(contract);
      await this.guarded(subject, () => this.js.publish(subject, bytes, { headers }));
    } else {
      this.connection.publish(subject, bytes, { headers });
    }
  }

  subscribe<C extends EventContract>(
    contract: C,
    handler: (data: never, context: MessageContext) => void | Promise<void>,
    options: { token?: string; replay?: boolean } = {},
  ): Subscription {
    const subject = this.naming.subject(fillToken(contract.subject, options.token ?? "*"));
    const deliver = async (
      bytes: Uint8Array,
      headers: MsgHdrs | undefined,
      actualSubject: string,
    ): Promise<void> => {
      try {
        const decoded = decodeEnvelope(await this.inbound(bytes, headers), contract.message, this.limits);
        await handler(decoded.data as never, this.context(decoded.envelope, actualSubject, headers));
      } catch (error) {
        this.metrics?.rejected.inc({ subject: contract.subject, code: InsituError.from(error).code });
        this.logger.warn("event dropped", { subject: actualSubject, error: InsituError.from(error) });
      }
    };
    if (contract.stream && options.replay !== false) {
      // Durable events: an ordered consumer replays the stream from its start, then follows it.
      let stopped = false;
      let stopMessages: (() => void) | undefined;
      void (async () => {
        await this.ensureEventStream(contract);
        const streamName = this.naming.stream(contract.stream!);
        const consumer = await this.guardedApi(streamName, () =>
          this.js.consumers.get(streamName, { filter_subjects: subject, deliver_policy: DeliverPolicy.All }),
        );
        // The server keeps an ordered consumer for its inactive threshold (5 minutes, fixed by
        // nats.js) after the client stops pulling: with one per SSE client, churned connections
        // piled up past the stream's cap. Delete it as soon as the subscriber leaves.
        const release = (): void => {
          try {
            void consumer.delete().catch(() => undefined);
          } catch {
            // never created on the server (stopped before the first pull): nothing to delete
          }
        };
        if (stopped) return release();
        const messages = await this.guardedApi(streamName, () => consumer.consume());
        stopMessages = () => {
          void messages.stop();
          release();
        };
        if (stopped) stopMessages();
        for await (const message of messages) await deliver(message.data, message.headers, message.subject);
      })().catch((error: unknown) => this.logger.error("event replay failed", { subject, error }));
      return {
        unsubscribe: () => {
          if (stopped) return;
          stopped = true;
          stopMessages?.();
        },
      };
    }
    const subscription = this.connection.subscribe(subject, {
      callback: (error, message) => {
        if (error) {
          this.logger.error("event subscription failed", { subject, error });
          return;
        }
        void deliver(message.data, message.headers, message.subject);
      },
    });
    return { unsubscribe: () => subscription.unsubscribe() };
  }

  private ensureEventStream(contract: EventContract): Promise<void> {
    return this.ensureStream(this.naming.stream(contract.stream!), {
      subjects: [this.naming.subject(contract.subject)],
      retention: RetentionPolicy.Limits,
      max_age: nanos(7 * 24 * 3600 * 1000),
    });
  }

  // ---------------------------------------------------------------- work queues

  async enqueue<C extends WorkQueueContract>(
    contract: C,
    data: never,
    options: EnqueueOptions = {},
  ): Promise<void> {
    const parsed = contract.message.schema.safeParse(data);
    if (!parsed.success) {
      throw new InsituError(`refusing to enqueue an invalid ${contract.message.type}`, {
        code: ErrorCode.invalidMessage,
        details: { issues: parsed.error.issues.slice(0, 10).map((issue) => issue.message) },
      });
    }
    await this.ensureWorkStream(contract);
    const span = startSpan(`enqueue ${contract.subject}`, {
      kind: "producer",
      parent: options.trace,
      attributes: { "messaging.system": "nats", "insitu.task_id": options.taskId },
    });
    span.end();
    const trace = span.trace;
    const id = options.id ?? randomUUID();
    const body = encodeEnvelope(contract.message, parsed.data, {
      id,
      taskId: options.taskId,
      traceparent: formatTraceparent(trace),
    });
    const { bytes, headers } = await this.outbound(body, trace);
    const subject = this.naming.subject(contract.subject);
    await this.guarded(subject, () => this.js.publish(subject, bytes, { headers, msgID: id }));
  }

  async consume<C extends WorkQueueContract>(
    contract: C,
    handler: (data: never, context: WorkContext) => Promise<void>,
    options: ConsumeOptions = {},
  ): Promise<Consumer> {
    const stream = this.naming.stream(contract.stream);
    const durable = options.durable ?? stream;
    const maxDeliver = options.maxDeliver ?? 5;
    const ackWaitMs = options.ackWaitMs ?? 30_000;
    const backoff = options.backoffMs ?? [1_000, 5_000, 15_000, 30_000];
    const concurrency = options.concurrency ?? 1;
    await this.ensureWorkStream(contract);
    // One delivery beyond maxDeliver lets us see (and dead-letter) a message whose consumers all
    // died without acking; otherwise the server would stop delivering it silently.
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      max_deliver: maxDeliver + 1,
      max_ack_pending: Math.max(concurrency * 4, 16),
    };
    const messages = await this.guardedApi(stream, async () => {
      const jsm = await this.manager();
      try {
        await jsm.consumers.add(stream, config);
      } catch (error) {
        if (InsituError.from(error).code === ErrorCode.busForbidden) throw error;
        await jsm.consumers.update(stream, durable, config);
      }
      const consumer = await this.js.consumers.get(stream, durable);
      return consumer.consume({ max_messages: concurrency, expires: 5_000 });
    });
    const semaphore = new Semaphore(concurrency);
    const abort = new AbortController();
    const loop = (async () => {
      for await (const message of messages) {
        const release = await semaphore.acquire();
        void this.handleWork(contract, handler, message, {
          maxDeliver,
          ackWaitMs,
          backoff,
          signal: abort.signal,
        })
          .catch((error: unknown) => this.logger.error("work handling failed", { error }))
          .finally(release);
      }
    })().catch((error: unknown) => this.logger.error("work queue consumer stopped", { stream, error }));
    const stop = async (): Promise<void> => {
      abort.abort();
      await messages.close().catch(() => undefined);
      await loop;
      await semaphore.idle();
    };
    this.stoppers.add(stop);
    return {
      stop: async () => {
        this.stoppers.delete(stop);
        await stop();
      },
    };
  }

  private async handleWork(
    contract: WorkQueueContract,
    handler: (data: never, context: WorkContext) => Promise<void>,
    message: JsMsg,
    settings: { maxDeliver: number; ackWaitMs: number; backoff: number[]; signal: AbortSignal },
  ): Promise<void> {
    const deliveries = message.info.deliveryCount;
    let raw: Uint8Array = message.data;
    let decoded: ReturnType<typeof decodeEnvelope>;
    try {
      raw = await this.inbound(message.data, message.headers);
      decoded = decodeEnvelope(raw, contract.message, this.limits);
    } catch (error) {
      // A payload that cannot parse never will: dead-letter it at once.
      this.metrics?.rejected.inc({ subject: contract.subject, code: InsituError.from(error).code });
      await this.deadLetter(contract, raw, InsituError.from(error), deliveries);
      terminate(message);
      return;
    }
    if (deliveries > settings.maxDeliver) {
      const reason = new InsituError(
        `delivered ${deliveries - 1} times without an ack: every consumer died or overran its ack deadline`,
        { code: "DELIVERY_LIMIT", details: { deliveries: deliveries - 1 } },
      );
      await this.deadLetter(contract, raw, reason, deliveries - 1);
      terminate(message);
      return;
    }
    const context: WorkContext = {
      ...this.context(decoded.envelope, message.subject, message.headers),
      deliveryCount: deliveries,
      heartbeat: () => message.working(),
      signal: settings.signal,
    };
    // Keep the ack deadline moving while the handler works; if this process dies the heartbeats
    // stop and the server redelivers after ack_wait.
    const heartbeat = setInterval(() => message.working(), Math.max(100, Math.floor(settings.ackWaitMs / 3)));
    try {
      if (tracingEnabled()) {
        await this.traced(`work ${contract.stream}`, "consumer", context, message.subject, () =>
          handler(decoded.data as never, context),
        );
      } else {
        await handler(decoded.data as never, context);
      }
    } catch (error) {
      clearInterval(heartbeat);
      if (settings.signal.aborted) {
        // The consumer is stopping (SIGTERM): whatever the handler made of the cancellation, the
        // item is handed back at once for another replica, not counted as a failure.
        context.logger.info("work item handed back: consumer stopping", { deliveries });
        message.nak();
        return;
      }
      const typed = InsituError.from(error);
      const permanent = !typed.retryable && typed.category === ErrorCategory.user;
      if (permanent || deliveries >= settings.maxDeliver) {
        context.logger.warn("work item dead-lettered", {
          subject: message.subject,
          deliveries,
          error: typed,
        });
        await this.deadLetter(contract, raw, typed, deliveries);
        terminate(message);
      } else {
        const delay = settings.backoff[Math.min(deliveries - 1, settings.backoff.length - 1)] ?? 1000;
        context.logger.warn("work item failed; will retry", { deliveries, delayMs: delay, error: typed });
        message.nak(delay);
      }
      return;
    }
    clearInterval(heartbeat);
    // Outside the handler's try: the work is committed, so a lost ack confirmation must not be
    // treated as a failed handler (it would dead-letter or redo finished work). At worst the item
    // is redelivered, and handlers are idempotent.
    await message
      .ackAck()
      .catch((error: unknown) =>
        context.logger.warn("ack not confirmed; the item may be redelivered", { deliveries, error }),
      );
  }

  private async deadLetter(
    contract: WorkQueueContract,
    raw: Uint8Array,
    reason: InsituError,
    deliveries: number,
  ): Promise<void> {
    await this.ensureDeadLetterStream();
    let data: unknown;
    try {
      data = decodeBareEnvelope(raw, this.limits);
    } catch {
      data = { base64: Buffer.from(raw.subarray(0, 64 * 1024)).toString("base64"), size: raw.byteLength };
    }
    const letter: DeadLetter & { code: string } = {
      subject: contract.subject,
      reason: reason.message,
      code: reason.code,
      deliveries,
      data,
      time: new Date().toISOString(),
    };
    const { bytes, headers } = await this.outbound(encodeJson(letter), newTrace());
    await this.js.publish(this.naming.deadLetterSubject(contract.subject), bytes, { headers });
    this.metrics?.deadLetters.inc({ subject: contract.subject });
  }

  async deadLetters(contract: WorkQueueContract): Promise<DeadLetter[]> {
    await this.ensureDeadLetterStream();
    const jsm = await this.manager();
    const stream = this.naming.deadLetterStream();
    const subject = this.naming.deadLetterSubject(contract.subject);
    const info = await this.guardedApi(stream, () => jsm.streams.info(stream, { subjects_filter: subject }));
    const count = info.state.subjects?.[subject] ?? 0;
    if (count === 0) return [];
    const consumer = await this.js.consumers.get(stream, { filter_subjects: subject });
    const letters: DeadLetter[] = [];
    const batch = await consumer.fetch({ max_messages: Math.min(count, 1000), expires: 2_000 });
    for await (const message of batch) {
      letters.push(
        parseBounded(await this.inbound(message.data, message.headers), this.limits) as DeadLetter,
      );
      if (letters.length >= count) break;
    }
    return letters;
  }

  private ensureWorkStream(contract: WorkQueueContract): Promise<void> {
    return this.ensureStream(this.naming.stream(contract.stream), {
      subjects: [this.naming.subject(contract.subject)],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(120_000),
    });
  }

  private ensureDeadLetterStream(): Promise<void> {
    return this.ensureStream(
      this.naming.deadLetterStream(),
      { subjects: [this.naming.deadLetterSubject(">")], ...DEAD_LETTER_LIMITS },
      { enforceLimits: true },
    );
  }

  private ensureStream(
    name: string,
    config: {
      subjects: string[];
      retention: RetentionPolicy;
      max_age?: number;
      max_msgs?: number;
      max_bytes?: number;
      discard?: DiscardPolicy;
      duplicate_window?: number;
    },
    options: { enforceLimits?: boolean } = {},
  ): Promise<void> {
    let pending = this.ensuredStreams.get(name);
    if (!pending) {
      pending = this.guardedApi(name, async () => {
        const jsm = await this.manager();
        try {
          const info = await jsm.streams.info(name);
          // A stream made by an older release has no bounds: give it the current ones. Only the
          // admin may update a stream (ADR 0171): a role leaves it to the next `insitu up`.
          if (
            options.enforceLimits &&
            (info.config.max_msgs !== config.max_msgs || info.config.max_bytes !== config.max_bytes)
          ) {
            if (this.user !== undefined && this.user !== ADMIN_USER) {
              this.logger.warn("stream has outdated bounds; the admin updates it", { stream: name });
              return;
            }
            await jsm.streams.update(name, {
              max_msgs: config.max_msgs,
              max_bytes: config.max_bytes,
              max_age: config.max_age,
              discard: config.discard,
            });
          }
        } catch {
          try {
            await jsm.streams.add({
              name,
              storage: StorageType.File,
              num_replicas: this.replicas,
              ...config,
            });
          } catch (error) {
            // Another replica may have created it between our info and add.
            await jsm.streams.info(name).catch(() => {
              throw error;
            });
          }
        }
      });
      pending.catch(() => this.ensuredStreams.delete(name));
      this.ensuredStreams.set(name, pending);
    }
    return pending;
  }

  private manager(): Promise<JetStreamManager> {
    this.jsmPromise ??= jetstreamManager(this.connection);
    return this.jsmPromise;
  }

  // ---------------------------------------------------------------- KV and objects

  async kv(bucket: string, options: KvOptions = {}): Promise<KvBucket> {
    const kv = await this.guardedApi(`KV_${this.naming.bucket(bucket)}`, () =>
      new Kvm(this.connection).create(this.naming.bucket(bucket), {
        history: options.history ?? 1,
        storage: StorageType.File,
        ...(options.ttlMs ? { ttl: options.ttlMs } : {}),
        replicas: this.replicas,
      }),
    );
    const limits = this.limits;
    const logger = this.logger;
    const kvSubject = (key: string) => `$KV.${this.naming.bucket(bucket)}.${key}`;
    const quarantine = (key: string, revision: number, reason: string, raw?: Uint8Array) =>
      this.quarantineEntry(
        bucket,
        key,
        revision,
        reason,
        raw,
        async () => {
          try {
            // Only if it is still the bad revision: a good value written meanwhile stays.
            await kv.delete(key, { previousSeq: revision });
          } catch {
            // changed since: nothing to remove
          }
        },
        raw ? undefined : async () => (await kv.get(key))?.value,
      );
    /** Bounded, valid UTF-8 JSON, or undefined after quarantining it. */
    const decode = async (
      key: string,
      bytes: Uint8Array,
      revision: number,
    ): Promise<{ value: unknown } | undefined> => {
      try {
        return { value: parseBounded(bytes, limits) };
      } catch (error) {
        await quarantine(key, revision, InsituError.from(error).message, bytes);
        return undefined;
      }
    };
    const encodeValue = (value: unknown): Uint8Array => {
      const bytes = encodeJson(value);
      if (bytes.byteLength > this.inlineLimit) {
        throw new InsituError(`KV value of ${bytes.byteLength} bytes is too large; store it as an object`, {
          code: ErrorCode.messageTooLarge,
          details: { bucket, size: bytes.byteLength, limit: this.inlineLimit },
        });
      }
      return bytes;
    };
    return {
      async get<T>(key: string) {
        const entry = await kv.get(key);
        if (entry?.operation !== "PUT") return undefined;
        const decoded = await decode(key, entry.value, entry.revision);
        return decoded ? { key, value: decoded.value as T, revision: entry.revision } : undefined;
      },
      quarantine: (key, revision, reason) => quarantine(key, revision, reason),
      put: (key, value) => this.guarded(kvSubject(key), () => kv.put(key, encodeValue(value))),
      create: (key, value) =>
        this.guarded(kvSubject(key), () =>
          kv.create(key, encodeValue(value)).catch((error: unknown) => throwConflict(error, key)),
        ),
      update: (key, value, revision) =>
        this.guarded(kvSubject(key), () =>
          kv.update(key, encodeValue(value), revision).catch((error: unknown) => throwConflict(error, key)),
        ),
      delete: async (key) => {
        await this.guarded(kvSubject(key), () => kv.delete(key));
      },
      async keys(filter) {
        const result: string[] = [];
        for await (const key of await kv.keys(filter ?? ">")) result.push(key);
        return result;
      },
      async watch(onChange, filter) {
        const watcher = await kv.watch({ key: filter ?? ">", include: KvWatchInclude.UpdatesOnly });
        void (async () => {
          for await (const entry of watcher) {
            let value: unknown;
            if (entry.operation === "PUT") {
              const decoded = await decode(entry.key, entry.value, entry.revision);
              if (!decoded) continue; // quarantined; its removal arrives as a delete
              value = decoded.value;
            }
            try {
              onChange(entry.key, value, entry.revision);
            } catch (error) {
              logger.error("KV watch callback failed", { bucket, key: entry.key, error });
            }
          }
        })().catch((error: unknown) => logger.error("KV watch ended with an error", { bucket, error }));
        return { unsubscribe: () => watcher.stop() };
      },
    };
  }

  /**
   * Counts, logs once and copies a bad stored entry to the quarantine stream, then removes it
   * (`remove`). Never throws: a reader that meets garbage must go on.
   */
  private async quarantineEntry(
    bucket: string,
    key: string,
    revision: number,
    reason: string,
    raw: Uint8Array | undefined,
    remove: () => Promise<void>,
    readRaw?: () => Promise<Uint8Array | undefined>,
  ): Promise<void> {
    const id = `${bucket}/${key}@${revision}`;
    if (this.reportedBadEntries.has(id)) return;
    this.reportedBadEntries.add(id);
    if (this.reportedBadEntries.size > 10_000) this.reportedBadEntries.clear();
    this.metrics?.badEntries.inc({ bucket });
    this.logger.warn("bad stored entry skipped and quarantined", { bucket, key, revision, reason });
    try {
      const bytes = raw ?? (await readRaw?.()) ?? new Uint8Array();
      await this.ensureStream(
        this.naming.stream("quarantine"),
        { subjects: [this.naming.subject("quarantine.>")], ...DEAD_LETTER_LIMITS },
        { enforceLimits: true },
      );
      const headers = createHeaders();
      headers.set(QUARANTINE_HEADERS.bucket, bucket);
      headers.set(QUARANTINE_HEADERS.key, key);
      headers.set(QUARANTINE_HEADERS.revision, String(revision));
      headers.set(QUARANTINE_HEADERS.reason, reason.replace(/[\r\n]+/g, " ").slice(0, 500));
      headers.set(QUARANTINE_HEADERS.size, String(bytes.byteLength));
      const token = bucket.replace(/[^A-Za-z0-9_-]/g, "_") || "_";
      await this.js.publish(
        this.naming.subject(`quarantine.${token}`),
        bytes.subarray(0, QUARANTINE_MAX_BYTES),
        { headers, msgID: `q:${id}` },
      );
      await remove();
    } catch (error) {
      this.logger.error("could not quarantine a bad entry (skipped all the same)", { bucket, key, error });
    }
  }

  async objects(bucket: string, options: ObjectBucketOptions = {}): Promise<ObjectBucket> {
    const store = await this.guardedApi(`OBJ_${this.naming.bucket(bucket)}`, () =>
      new Objm(this.connection).create(this.naming.bucket(bucket), {
        storage: StorageType.File,
        ...(options.ttlMs ? { ttl: nanos(options.ttlMs) } : {}),
        replicas: this.replicas,
      }),
    );
    const limits = this.limits;
    const quarantine = async (name: string, reason: string, raw?: Uint8Array) => {
      // Objects have no revision of their own: the stream sequence of their metadata stands in.
      const revision = await store
        .info(name)
        .then((info) => info?.revision ?? 0)
        .catch(() => 0);
      await this.quarantineEntry(
        bucket,
        name,
        revision,
        reason,
        raw,
        async () => {
          await store.delete(name).catch(() => undefined);
        },
        raw ? undefined : () => readObject(store, name).then((bytes) => bytes ?? undefined),
      );
    };
    const get = async (name: string): Promise<Uint8Array | undefined> => {
      try {
        return await readObject(store, name);
      } catch (error) {
        if (!isCorruptObject(error)) throw objectReadFailure(error, bucket, name);
        await quarantine(name, (error as Error).message.split("\n")[0] ?? "corrupt object", new Uint8Array());
        return undefined;
      }
    };
    return {
      async put(name, data) {
        const info = await store.putBlob({ name }, data);
        return { digest: info.digest, size: info.size };
      },
      get,
      async getJson<T>(name: string, wider: Partial<DecodeLimits> = {}) {
        const bytes = await get(name);
        if (!bytes) return undefined;
        try {
          return parseBounded(bytes, { ...limits, ...wider }) as T;
        } catch (error) {
          await quarantine(name, InsituError.from(error).message, bytes);
          return undefined;
        }
      },
      async delete(name) {
        await store.delete(name).catch(() => undefined);
      },
      quarantine: (name, reason) => quarantine(name, reason),
    };
  }

  // ---------------------------------------------------------------- large payloads by reference

  /**
   * Inline messages carry their trace context in the envelope only: NATS headers roughly double
   * the p50 of a loopback request (see docs/adr/0002-trace-context-in-the-envelope.md). Headers
   * are added only when the body travels by reference, where the body cannot carry them.
   */
  private async outbound(
    body: Uint8Array,
    trace: TraceContext,
  ): Promise<{ bytes: Uint8Array; headers?: MsgHdrs }> {
    if (body.byteLength <= this.inlineLimit) return { bytes: body };
    const headers = createHeaders();
    headers.set(TRACEPARENT_HEADER, formatTraceparent(trace));
    const store = await this.payloads();
    const name = randomUUID();
    await store.putBlob({ name }, body);
    const reference: PayloadReference = { bucket: PAYLOAD_BUCKET, name, size: body.byteLength };
    headers.set(PAYLOAD_REF_HEADER, "1");
    return { bytes: encodeJson(reference), headers };
  }

  private async inbound(bytes: Uint8Array, headers: MsgHdrs | undefined): Promise<Uint8Array> {
    if (!headers?.get(PAYLOAD_REF_HEADER)) return bytes;
    const reference = parseBounded(bytes, { maxBytes: 4096, maxDepth: 3 }) as Partial<PayloadReference>;
    if (typeof reference.name !== "string" || typeof reference.size !== "number") {
      throw new InsituError("malformed payload reference", {
        code: ErrorCode.invalidMessage,
        category: "user",
      });
    }
    if (reference.size > this.limits.maxBytes) {
      throw new InsituError(`referenced payload of ${reference.size} bytes exceeds the limit`, {
        code: ErrorCode.messageTooLarge,
        category: ErrorCategory.user,
        details: { size: reference.size, limit: this.limits.maxBytes },
      });
    }
    const blob = await (await this.payloads()).getBlob(reference.name);
    if (!blob) {
      throw new InsituError("referenced payload is gone (expired or never stored)", {
        code: ErrorCode.notFound,
        category: ErrorCategory.system,
        details: { name: reference.name },
      });
    }
    return blob;
  }

  private payloads(): Promise<ObjectStore> {
    this.payloadStore ??= this.guardedApi(`OBJ_${this.naming.bucket(PAYLOAD_BUCKET)}`, () =>
      new Objm(this.connection).create(this.naming.bucket(PAYLOAD_BUCKET), {
        storage: StorageType.File,
        replicas: this.replicas,
        ttl: nanos(24 * 3600 * 1000),
      }),
    );
    return this.payloadStore;
  }

  // ---------------------------------------------------------------- lifecycle

  async health(): Promise<BusHealth> {
    const connected = !this.connection.isClosed();
    const health: BusHealth = { connected, server: this.connection.getServer(), jetstream: false };
    if (!connected) return health;
    try {
      health.rttMs = await this.connection.rtt();
      await (await this.manager()).getAccountInfo();
      health.jetstream = true;
    } catch {
      // reported as not healthy
    }
    return health;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.stoppers].map((stop) => stop()));
    this.stoppers.clear();
    if (!this.connection.isClosed()) await this.connection.drain().catch(() => undefined);
  }

  /**
   * Tracing hook: runs a handler in a span whose parent is the envelope's traceparent, with that
   * span current so whatever the handler sends continues the same trace.
   */
  private async traced<T>(
    name: string,
    kind: "server" | "consumer",
    context: MessageContext,
    subject: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    const span = startSpan(name, {
      kind,
      parent: context.trace,
      attributes: {
        "messaging.system": "nats",
        "messaging.destination.name": subject,
        "insitu.task_id": context.taskId,
      },
    });
    try {
      const result = await withTrace(span.trace, fn);
      span.end();
      return result;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  async closed(): Promise<void> {
    await this.connection.closed();
  }

  private context(
    envelope: { id: string; taskId?: string; traceparent?: string },
    subject: string,
    headers?: MsgHdrs,
  ): MessageContext {
    const base = this.logger;
    // Both built on first use: most handlers never log or look at the trace, and parsing or
    // making ids per message shows up in the request path's profile.
    let trace: TraceContext | undefined;
    let logger: Logger | undefined;
    const traceOf = (): TraceContext => {
      trace ??= parseTraceparent(envelope.traceparent ?? headers?.get(TRACEPARENT_HEADER)) ?? newTrace();
      return trace;
    };
    const context: MessageContext = {
      id: envelope.id,
      subject,
      get trace() {
        return traceOf();
      },
      get logger() {
        const traceId = traceOf().traceId;
        logger ??= base.child(envelope.taskId ? { traceId, taskId: envelope.taskId } : { traceId });
        return logger;
      },
    };
    if (envelope.taskId !== undefined) context.taskId = envelope.taskId;
    return context;
  }
}

/** An object's bytes as a plain Uint8Array (the client hands back a Buffer), or undefined. */
async function readObject(store: ObjectStore, name: string): Promise<Uint8Array | undefined> {
  const blob = await store.getBlob(name);
  return blob ? new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength) : undefined;
}

/** The object client's errors for stored bytes that cannot be right (not for a failed read). */
function isCorruptObject(error: unknown): boolean {
  return /corrupt object|digests do not match|unknown digest type|unable to parse digest/i.test(
    (error as Error)?.message ?? "",
  );
}

function objectReadFailure(error: unknown, bucket: string, name: string): InsituError {
  if (error instanceof InsituError) return error;
  return new InsituError(`cannot read object ${name} from ${bucket}: ${(error as Error)?.message ?? error}`, {
    code: ErrorCode.unavailable,
    category: ErrorCategory.system,
    retryable: true,
    details: { bucket, name },
    cause: error,
  });
}

/**
 * Removes a work item for good. A bare `+TERM`: nats-server 2.9 ignores `+TERM <reason>` and
 * redelivers the item until max-deliver (measured: 57 poison items became 1,425 dead letters and
 * held the ack-pending slots). The reason travels in the dead letter instead.
 */
function terminate(message: JsMsg): void {
  message.term();
}

function fillToken(subject: string, token: string | undefined): string {
  if (!subject.endsWith(".*")) return subject;
  if (token === undefined) {
    throw new InsituError(`subject ${subject} needs a token`, { code: ErrorCode.invalidMessage });
  }
  if (token !== "*" && !/^[A-Za-z0-9_-]{1,128}$/.test(token)) {
    throw new InsituError(`bad subject token ${JSON.stringify(token)}`, { code: ErrorCode.invalidMessage });
  }
  return `${subject.slice(0, -1)}${token}`;
}

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

function throwConflict(error: unknown, key: string): never {
  const message = (error as Error)?.message ?? "";
  if (/wrong last sequence|key exists|10071/i.test(message)) {
    throw new InsituError(`compare-and-set failed for ${key}: it changed since it was read`, {
      code: ErrorCode.conflict,
      retryable: true,
      details: { key },
      cause: error,
    });
  }
  throw InsituError.from(error, { code: ErrorCode.unavailable, retryable: true });
}

export type { MessageContract };

/** Whether a refused subject is a `$JS.API` call on this stream (or the account info every client asks first). */
function apiSubjectNames(subject: string, stream: string): boolean {
  if (subject === "$JS.API.INFO") return true;
  const tokens = subject.split(".");
  return tokens[0] === "$JS" && tokens[1] === "API" && tokens.slice(3).includes(stream);
}

function forbidden(
  user: string | undefined,
  operation: string,
  subject: string,
  cause: unknown,
): InsituError {
  return new InsituError(
    `the bus refused to let ${user === undefined ? "this connection" : `user "${user}"`} ${operation === "subscription" ? "subscribe to" : "publish on"} ${subject}: not in its permissions`,
    {
      code: ErrorCode.busForbidden,
      category: ErrorCategory.user,
      retryable: false,
      details: { ...(user === undefined ? {} : { user }), operation, subject },
      cause,
    },
  );
}
