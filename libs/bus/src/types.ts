import type {
  EndpointContract,
  EventContract,
  Payload,
  PayloadInput,
  Reply,
  ReplyInput,
  WorkQueueContract,
} from "@insitu/contracts";
import type { Logger, TraceContext } from "@insitu/telemetry";
import type { DecodeLimits } from "./codec.js";

/**
 * The bus: the only way insitu services talk. One interface, two implementations — NATS
 * (`connectBus`) and in-memory (`@insitu/bus/testing`, unit tests only).
 */
export interface Bus {
  /** Subject prefix applied to every relative subject and stream name (default `insitu`). */
  readonly prefix: string;
  readonly name: string;

  /** Typed request/reply. Rejects with the handler's InsituError rebuilt typed. */
  request<C extends EndpointContract>(
    contract: C,
    data: PayloadInput<C>,
    options?: RequestOptions,
  ): Promise<Reply<C>>;

  /**
   * Serves endpoints as one @nats-io/services service (queue group = service name, `$SRV`
   * discovery and stats). Malformed, oversized, too-deep or wrong-version requests are answered
   * with typed errors and never reach the handler.
   */
  serve(definition: ServiceDefinition): Promise<ServedService>;

  /**
   * Lists this process in `$SRV` under `name` with a `status` endpoint whose metadata is
   * `metadata` (a request to it answers the same as JSON), so `insitu status` finds every service,
   * including those that serve no endpoint. Joins the service this connection already serves
   * under `name`, so an instance is listed once.
   */
  announce(definition: AnnounceDefinition): Promise<void>;

  /** Fire-and-forget event; `token` fills a trailing subject token (e.g. the task id). */
  publish<C extends EventContract>(
    contract: C,
    data: PayloadInput<C>,
    options?: PublishOptions,
  ): Promise<void>;

  /** Subscribes to an event (all tokens when `token` is omitted). */
  subscribe<C extends EventContract>(
    contract: C,
    handler: (data: Payload<C>, context: MessageContext) => void | Promise<void>,
    options?: {
      token?: string;
      /** Durable events: replay from the start of the stream (default true). */
      replay?: boolean;
    },
  ): Subscription;

  /** Durable JetStream work queue (stream created on first use, WorkQueue retention). */
  enqueue<C extends WorkQueueContract>(
    contract: C,
    data: PayloadInput<C>,
    options?: EnqueueOptions,
  ): Promise<void>;

  /**
   * Consumes a work queue with a durable consumer shared by all replicas. The message is acked
   * only after `handler` resolves (so commit the result inside it); `context.heartbeat()` extends
   * the ack deadline; a throw naks with backoff; after `maxDeliver` attempts — or at once for a
   * payload that can never parse — the message goes to the dead-letter subject with the reason.
   */
  consume<C extends WorkQueueContract>(
    contract: C,
    handler: (data: Payload<C>, context: WorkContext) => Promise<void>,
    options?: ConsumeOptions,
  ): Promise<Consumer>;

  /** A JetStream KV bucket (created if missing) with compare-and-set. */
  kv(bucket: string, options?: KvOptions): Promise<KvBucket>;

  /** A JetStream Object Store bucket (created if missing). */
  objects(bucket: string, options?: ObjectBucketOptions): Promise<ObjectBucket>;

  /** Dead-lettered messages of a queue (for operators and tests). */
  deadLetters(contract: WorkQueueContract): Promise<DeadLetter[]>;

  /** Health of the connection and JetStream. */
  health(): Promise<BusHealth>;

  /** Drains subscriptions and in-flight handlers, then closes. */
  drain(): Promise<void>;
  /** Resolves when the connection is closed for good. */
  closed(): Promise<void>;
}

export interface RequestOptions {
  timeoutMs?: number;
  taskId?: string;
  trace?: TraceContext;
}

export interface PublishOptions {
  token?: string;
  taskId?: string;
  trace?: TraceContext;
}

export interface EnqueueOptions {
  /** Message id; JetStream drops a duplicate id within its window (idempotent enqueue). */
  id?: string;
  taskId?: string;
  trace?: TraceContext;
}

export interface MessageContext {
  id: string;
  taskId?: string;
  trace: TraceContext;
  /** Subject the message arrived on (prefixed). */
  subject: string;
  logger: Logger;
}

export interface WorkContext extends MessageContext {
  /** 1 on first delivery. */
  deliveryCount: number;
  /** Tells the server the work is in progress (extends the ack deadline). */
  heartbeat(): void;
  /** Aborted when the consumer is stopping; long work may checkpoint and throw. */
  signal: AbortSignal;
}

export interface ConsumeOptions {
  /** Durable consumer name; defaults to the stream name (all replicas share it). */
  durable?: string;
  /** Handlers running at once in this process. */
  concurrency?: number;
  /** Deliveries before dead-lettering. */
  maxDeliver?: number;
  /** Ack deadline without a heartbeat. */
  ackWaitMs?: number;
  /** Redelivery delays after a nak, per attempt (last one repeats). */
  backoffMs?: number[];
}

export interface Consumer {
  stop(): Promise<void>;
}

export interface EndpointHandler<C extends EndpointContract = EndpointContract> {
  contract: C;
  handle(data: Payload<C>, context: MessageContext): Promise<ReplyInput<C>>;
}

export interface ServiceDefinition {
  name: string;
  version: string;
  description: string;
  endpoints: EndpointHandler[];
  /** Max requests handled at once per endpoint in this process; extra wait in line. */
  concurrency?: number;
}

export interface AnnounceDefinition {
  name: string;
  version: string;
  description?: string;
  /** Strings only ($SRV metadata); e.g. `model.manager` → `gemini/gemini-2.5-flash`. */
  metadata: Record<string, string>;
}

export interface ServedService {
  readonly id: string;
  stop(): Promise<void>;
}

export interface Subscription {
  unsubscribe(): void;
}

export interface KvOptions {
  history?: number;
  /** Entries older than this are removed by the server (bucket max age); set when the bucket is created. */
  ttlMs?: number;
}

export interface ObjectBucketOptions {
  /** Objects older than this are removed by the server (bucket max age); set when the bucket is created. */
  ttlMs?: number;
}

export interface KvEntry<T = unknown> {
  key: string;
  value: T;
  revision: number;
}

export interface KvBucket {
  get<T = unknown>(key: string): Promise<KvEntry<T> | undefined>;
  /** Unconditional write; returns the new revision. */
  put(key: string, value: unknown): Promise<number>;
  /** Writes only if the key does not exist; CONFLICT otherwise. */
  create(key: string, value: unknown): Promise<number>;
  /** Writes only if the key is still at `revision`; CONFLICT otherwise. */
  update(key: string, value: unknown, revision: number): Promise<number>;
  delete(key: string): Promise<void>;
  keys(filter?: string): Promise<string[]>;
  /**
   * Moves an entry its reader could not use (e.g. wrong schema) out of the bucket into the
   * quarantine (`insitu quarantine list`): counted in `insitu_bad_entries_total{bucket}`, logged
   * once, removed only if still at `revision`. `get` and `watch` do this themselves for entries
   * that are not bounded, valid UTF-8 JSON (they read as absent).
   */
  quarantine(key: string, revision: number, reason: string): Promise<void>;
  /** Calls `onChange` for every change after the call (key, new value or undefined when deleted). */
  watch(
    onChange: (key: string, value: unknown | undefined, revision: number) => void,
    filter?: string,
  ): Promise<Subscription>;
}

export interface ObjectBucket {
  put(name: string, data: Uint8Array): Promise<{ digest: string; size: number }>;
  /**
   * The object's bytes, or undefined when there is none. An object whose chunks do not match its
   * digest (corrupt in the store) is quarantined and reads as absent.
   */
  get(name: string): Promise<Uint8Array | undefined>;
  /**
   * The object as bounded, valid UTF-8 JSON, or undefined when it is absent or was not (then it
   * is quarantined, like a bad KV entry). `limits` widens the bus's decode limits for big objects.
   */
  getJson<T = unknown>(name: string, limits?: Partial<DecodeLimits>): Promise<T | undefined>;
  delete(name: string): Promise<void>;
  /**
   * Moves an object its reader could not use (e.g. wrong schema) into the quarantine (`insitu
   * quarantine list`): counted in `insitu_bad_entries_total{bucket}`, logged once, then removed.
   */
  quarantine(name: string, reason: string): Promise<void>;
}

export interface DeadLetter {
  subject: string;
  reason: string;
  deliveries: number;
  data: unknown;
  time: string;
}

export interface BusHealth {
  connected: boolean;
  server?: string;
  jetstream: boolean;
  rttMs?: number;
}

/** Binds a handler to its contract with the payload and reply types inferred from the contract. */
export function endpoint<C extends EndpointContract>(
  contract: C,
  handle: (data: Payload<C>, context: MessageContext) => Promise<ReplyInput<C>>,
): EndpointHandler {
  return { contract, handle } as unknown as EndpointHandler;
}
