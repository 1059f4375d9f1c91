import type { EndpointContract, EventContract, MessageContract, WorkQueueContract } from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { createLogger, type Logger, MetricName } from "@insitu/telemetry";
import { type JetStreamClient, type JetStreamManager, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { ObjectStore } from "@nats-io/obj";
import type { Service } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";
import { Counter, Histogram, type Registry } from "prom-client";
import { DEFAULT_LIMITS, type DecodeLimits } from "./codec.js";
import { LivenessDefaults, LivenessRequester } from "./liveness.js";
import { inboxPrefixFor, natsConnectOptions, redactUrl } from "./auth.js";
import { Naming } from "./naming.js";
import * as buckets from "./bus-buckets.js";
import { BAD_ENTRIES_METRIC } from "./bus-buckets.js";
import * as events from "./bus-events.js";
import { manager } from "./bus-events.js";
import { watchPermissionViolations } from "./bus-permissions.js";
import * as requests from "./bus-requests.js";
import * as work from "./bus-work.js";
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

/**
 * The `Bus` over NATS. Its state lives here; the work is done by the modules beside it, one per
 * seam (bus-requests, bus-events, bus-work, bus-buckets, bus-offload, bus-permissions,
 * bus-context), which take the bus as their first argument. The fields are readable by those
 * modules; users only ever see the `Bus` interface (connectBus), so none of this is public API.
 */
export class NatsBus implements Bus {
  readonly prefix: string;
  readonly name: string;
  readonly naming: Naming;
  readonly limits: DecodeLimits;
  readonly inlineLimit: number;
  readonly requestTimeoutMs: number;
  readonly livenessWindowMs: number;
  readonly liveness: LivenessRequester;
  readonly replicas: number;
  readonly logger: Logger;
  readonly js: JetStreamClient;
  jsmPromise?: Promise<JetStreamManager>;
  readonly ensuredStreams = new Map<string, Promise<void>>();
  payloadStore?: Promise<ObjectStore>;
  readonly stoppers = new Set<() => Promise<void>>();
  /** The first `$SRV` service this connection serves under each name (announce joins it). */
  readonly servedByName = new Map<string, Service>();
  readonly metrics?: {
    requests: Counter<"subject" | "outcome">;
    duration: Histogram<"subject">;
    rejected: Counter<"subject" | "code">;
    deadLetters: Counter<"subject">;
    badEntries: Counter<"bucket">;
  };
  /** Bad entries already logged (bucket/key@revision): a re-read must not flood the log. */
  readonly reportedBadEntries = new Set<string>();

  /** Pending sends per subject, failed at once when the server refuses that subject (ADR 0120). */
  readonly pendingBySubject = new Map<string, Set<(error: InsituError) => void>>();

  /** Pending JetStream API calls on one stream, failed at once when the server refuses one (ADR 0171). */
  readonly pendingApi = new Set<{ stream: string; fail: (error: InsituError) => void }>();

  constructor(
    readonly connection: NatsConnection,
    options: BusOptions,
    readonly user?: string,
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
    watchPermissionViolations(this);
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

  // ---------------------------------------------------------------- request/reply

  request<C extends EndpointContract>(
    contract: C,
    data: never,
    options: RequestOptions = {},
  ): Promise<never> {
    return requests.request(this, contract, data, options);
  }

  serve(definition: ServiceDefinition): Promise<ServedService> {
    return requests.serve(this, definition);
  }

  announce(definition: AnnounceDefinition): Promise<void> {
    return requests.announce(this, definition);
  }

  // ---------------------------------------------------------------- events

  publish<C extends EventContract>(contract: C, data: never, options: PublishOptions = {}): Promise<void> {
    return events.publish(this, contract, data, options);
  }

  subscribe<C extends EventContract>(
    contract: C,
    handler: (data: never, context: MessageContext) => void | Promise<void>,
    options: { token?: string; replay?: boolean } = {},
  ): Subscription {
    return events.subscribe(this, contract, handler, options);
  }

  // ---------------------------------------------------------------- work queues

  enqueue<C extends WorkQueueContract>(
    contract: C,
    data: never,
    options: EnqueueOptions = {},
  ): Promise<void> {
    return work.enqueue(this, contract, data, options);
  }

  consume<C extends WorkQueueContract>(
    contract: C,
    handler: (data: never, context: WorkContext) => Promise<void>,
    options: ConsumeOptions = {},
  ): Promise<Consumer> {
    return work.consume(this, contract, handler, options);
  }

  deadLetters(contract: WorkQueueContract): Promise<DeadLetter[]> {
    return work.deadLetters(this, contract);
  }

  // ---------------------------------------------------------------- KV and objects

  kv(bucket: string, options: KvOptions = {}): Promise<KvBucket> {
    return buckets.kv(this, bucket, options);
  }

  objects(bucket: string, options: ObjectBucketOptions = {}): Promise<ObjectBucket> {
    return buckets.objects(this, bucket, options);
  }

  // ---------------------------------------------------------------- lifecycle

  async health(): Promise<BusHealth> {
    const connected = !this.connection.isClosed();
    const health: BusHealth = { connected, server: this.connection.getServer(), jetstream: false };
    if (!connected) return health;
    try {
      health.rttMs = await this.connection.rtt();
      await (await manager(this)).getAccountInfo();
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

  async closed(): Promise<void> {
    await this.connection.closed();
  }
}

export type { MessageContract };

// Moved beside the code that uses them; re-exported so imports of this file keep working.
export { BAD_ENTRIES_METRIC, QUARANTINE_HEADERS } from "./bus-buckets.js";
export { DEAD_LETTER_LIMITS } from "./bus-work.js";
