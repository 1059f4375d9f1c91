/**
 * FAKE — an in-memory Bus for unit tests only. Same interface and the same envelope validation as
 * the NATS bus (messages are encoded and decoded through the real codec), but no network, no
 * persistence, no real concurrency between processes. Integration tests use `connectBus`.
 */
import { randomUUID } from "node:crypto";
import type { EventContract, WorkQueueContract } from "@insitu/contracts";
import { ErrorCode, InsituError } from "@insitu/errors";
import { createLogger, formatTraceparent, newTrace } from "@insitu/telemetry";
import { DEFAULT_LIMITS, decodeEnvelope, encodeEnvelope, parseBounded } from "./codec.js";
import { Semaphore } from "./semaphore.js";
import type {
  Bus,
  ConsumeOptions,
  DeadLetter,
  EndpointHandler,
  KvBucket,
  MessageContext,
  ObjectBucket,
  ServiceDefinition,
  Subscription,
  WorkContext,
} from "./types.js";

interface QueuedWork {
  bytes: Uint8Array;
  deliveries: number;
}

export interface MemoryBus extends Bus {
  /** Runs until every queue is empty and no handler is running. */
  settle(): Promise<void>;
}

export function createMemoryBus(options: { prefix?: string; name?: string } = {}): MemoryBus {
  const prefix = options.prefix ?? "insitu";
  const logger = createLogger({ service: options.name ?? "memory-bus", level: "error" });
  const endpoints = new Map<string, EndpointHandler>();
  const eventHandlers = new Map<
    string,
    Set<{ pattern: string; deliver: (bytes: Uint8Array, subject: string) => void }>
  >();
  const eventLog = new Map<string, Array<{ subject: string; bytes: Uint8Array }>>();
  const queues = new Map<string, QueuedWork[]>();
  const consumers = new Map<string, () => void>();
  const deadLetters = new Map<string, DeadLetter[]>();
  const buckets = new Map<string, MemoryKv>();
  const objectStores = new Map<string, Map<string, Uint8Array>>();
  /** FAKE: quarantined objects are only remembered here ("bucket/name" → reason). */
  const quarantinedObjects = new Map<string, string>();
  const busy = new Set<Promise<unknown>>();
  const seenIds = new Set<string>();

  const context = (id: string, subject: string, taskId?: string): MessageContext => {
    const trace = newTrace();
    const result: MessageContext = { id, subject, trace, logger };
    if (taskId !== undefined) result.taskId = taskId;
    return result;
  };
  const track = <T>(promise: Promise<T>): Promise<T> => {
    busy.add(promise);
    void promise.finally(() => busy.delete(promise)).catch(() => undefined);
    return promise;
  };

  const bus: MemoryBus = {
    prefix,
    name: options.name ?? "memory-bus",

    async request(contract, data, requestOptions = {}) {
      const endpoint = endpoints.get(contract.subject);
      if (!endpoint) {
        throw new InsituError(`no service is serving ${prefix}.${contract.subject}`, {
          code: ErrorCode.unavailable,
          retryable: true,
        });
      }
      const bytes = encodeEnvelope(contract.request, data, {
        taskId: requestOptions.taskId,
        traceparent: formatTraceparent(newTrace()),
      });
      const decoded = decodeEnvelope(bytes, endpoint.contract.request, DEFAULT_LIMITS);
      const reply = await track(
        endpoint.handle(
          decoded.data as never,
          context(decoded.envelope.id, contract.subject, requestOptions.taskId),
        ),
      ).catch((error: unknown) => {
        // Round-trip the error through its wire form, as NATS would.
        throw InsituError.fromJSON(JSON.parse(JSON.stringify(InsituError.from(error))));
      });
      const replyBytes = encodeEnvelope(contract.response, reply);
      return decodeEnvelope(replyBytes, contract.response, DEFAULT_LIMITS).data as never;
    },

    async serve(definition: ServiceDefinition) {
      for (const endpoint of definition.endpoints) endpoints.set(endpoint.contract.subject, endpoint);
      return {
        id: randomUUID(),
        stop: async () => {
          for (const endpoint of definition.endpoints) endpoints.delete(endpoint.contract.subject);
        },
      };
    },

    async announce() {
      // FAKE: no $SRV in memory; nothing to list.
    },

    async publish(contract: EventContract, data, publishOptions = {}) {
      const subject = contract.subject.endsWith(".*")
        ? `${contract.subject.slice(0, -1)}${publishOptions.token ?? ""}`
        : contract.subject;
      const parsed = contract.message.schema.safeParse(data);
      if (!parsed.success) {
        throw new InsituError(`refusing to publish an invalid ${contract.message.type}`, {
          code: ErrorCode.invalidMessage,
        });
      }
      const bytes = encodeEnvelope(contract.message, parsed.data, { taskId: publishOptions.taskId });
      if (contract.stream) {
        const log = eventLog.get(contract.subject) ?? [];
        log.push({ subject, bytes });
        eventLog.set(contract.subject, log);
      }
      for (const handler of eventHandlers.get(contract.subject) ?? []) {
        if (matches(handler.pattern, subject)) handler.deliver(bytes, subject);
      }
    },

    subscribe(contract: EventContract, handler, subscribeOptions = {}): Subscription {
      const pattern = contract.subject.endsWith(".*")
        ? `${contract.subject.slice(0, -1)}${subscribeOptions.token ?? "*"}`
        : contract.subject;
      const entry = {
        pattern,
        deliver: (bytes: Uint8Array, subject: string) => {
          const decoded = decodeEnvelope(bytes, contract.message, DEFAULT_LIMITS);
          void track(Promise.resolve(handler(decoded.data as never, context(decoded.envelope.id, subject))));
        },
      };
      for (const past of eventLog.get(contract.subject) ?? []) {
        if (matches(pattern, past.subject)) entry.deliver(past.bytes, past.subject);
      }
      const set = eventHandlers.get(contract.subject) ?? new Set();
      set.add(entry);
      eventHandlers.set(contract.subject, set);
      return { unsubscribe: () => set.delete(entry) };
    },

    async enqueue(contract: WorkQueueContract, data, enqueueOptions = {}) {
      const parsed = contract.message.schema.safeParse(data);
      if (!parsed.success) {
        throw new InsituError(`refusing to enqueue an invalid ${contract.message.type}`, {
          code: ErrorCode.invalidMessage,
        });
      }
      const id = enqueueOptions.id ?? randomUUID();
      if (seenIds.has(`${contract.subject}:${id}`)) return;
      seenIds.add(`${contract.subject}:${id}`);
      const queue = queues.get(contract.subject) ?? [];
      queue.push({
        bytes: encodeEnvelope(contract.message, parsed.data, { id, taskId: enqueueOptions.taskId }),
        deliveries: 0,
      });
      queues.set(contract.subject, queue);
      consumers.get(contract.subject)?.();
    },

    async consume(contract: WorkQueueContract, handler, consumeOptions: ConsumeOptions = {}) {
      const maxDeliver = consumeOptions.maxDeliver ?? 5;
      const semaphore = new Semaphore(consumeOptions.concurrency ?? 1);
      const abort = new AbortController();
      const pump = (): void => {
        const queue = queues.get(contract.subject) ?? [];
        while (queue.length > 0 && !abort.signal.aborted) {
          const item = queue.shift()!;
          item.deliveries++;
          void track(
            semaphore.run(async () => {
              const decoded = decodeEnvelope(item.bytes, contract.message, DEFAULT_LIMITS);
              const work: WorkContext = {
                ...context(decoded.envelope.id, contract.subject, decoded.envelope.taskId),
                deliveryCount: item.deliveries,
                heartbeat: () => undefined,
                signal: abort.signal,
              };
              try {
                await handler(decoded.data as never, work);
              } catch (error) {
                const typed = InsituError.from(error);
                if (item.deliveries >= maxDeliver || (!typed.retryable && typed.category === "user")) {
                  const letters = deadLetters.get(contract.subject) ?? [];
                  letters.push({
                    subject: contract.subject,
                    reason: typed.message,
                    deliveries: item.deliveries,
                    data: decoded.envelope,
                    time: new Date().toISOString(),
                  });
                  deadLetters.set(contract.subject, letters);
                } else {
                  queue.push(item);
                  queueMicrotask(pump);
                }
              }
            }),
          );
        }
      };
      consumers.set(contract.subject, pump);
      pump();
      return {
        stop: async () => {
          abort.abort();
          consumers.delete(contract.subject);
          await semaphore.idle();
        },
      };
    },

    async kv(bucket: string): Promise<KvBucket> {
      let kv = buckets.get(bucket);
      if (!kv) {
        kv = new MemoryKv();
        buckets.set(bucket, kv);
      }
      return kv;
    },

    async objects(bucket: string): Promise<ObjectBucket> {
      let store = objectStores.get(bucket);
      if (!store) {
        store = new Map();
        objectStores.set(bucket, store);
      }
      const objects = store;
      return {
        async put(name, data) {
          objects.set(name, new Uint8Array(data));
          return { digest: `size=${data.byteLength}`, size: data.byteLength };
        },
        async get(name) {
          return objects.get(name);
        },
        async getJson<T>(name: string) {
          const bytes = objects.get(name);
          if (!bytes) return undefined;
          try {
            return parseBounded(bytes) as T;
          } catch (error) {
            quarantinedObjects.set(`${bucket}/${name}`, (error as Error).message);
            objects.delete(name);
            return undefined;
          }
        },
        async delete(name) {
          objects.delete(name);
        },
        async quarantine(name, reason) {
          quarantinedObjects.set(`${bucket}/${name}`, reason);
          objects.delete(name);
        },
      };
    },

    async deadLetters(contract: WorkQueueContract) {
      return [...(deadLetters.get(contract.subject) ?? [])];
    },

    async health() {
      return { connected: true, jetstream: true, server: "memory" };
    },

    async drain() {
      for (const stop of consumers.values()) void stop;
      consumers.clear();
      await Promise.allSettled([...busy]);
    },

    async closed() {},

    async settle() {
      for (let round = 0; round < 1000; round++) {
        const pending = [...queues.values()].some((queue) => queue.length > 0) || busy.size > 0;
        if (!pending) return;
        await Promise.allSettled([...busy]);
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
  return bus;
}

function matches(pattern: string, subject: string): boolean {
  const patternTokens = pattern.split(".");
  const subjectTokens = subject.split(".");
  for (let index = 0; index < patternTokens.length; index++) {
    const token = patternTokens[index];
    if (token === ">") return true;
    if (token !== "*" && token !== subjectTokens[index]) return false;
  }
  return patternTokens.length === subjectTokens.length;
}

/** FAKE KV with compare-and-set semantics matching JetStream KV's revisions. */
class MemoryKv implements KvBucket {
  private revision = 0;
  private readonly entries = new Map<string, { value: string; revision: number }>();
  private readonly watchers = new Set<{
    filter: string;
    onChange: (key: string, value: unknown, revision: number) => void;
  }>();

  async get<T>(key: string) {
    const entry = this.entries.get(key);
    return entry ? { key, value: JSON.parse(entry.value) as T, revision: entry.revision } : undefined;
  }
  async put(key: string, value: unknown) {
    return this.write(key, value);
  }
  async create(key: string, value: unknown) {
    if (this.entries.has(key)) throw conflict(key);
    return this.write(key, value);
  }
  async update(key: string, value: unknown, revision: number) {
    if (this.entries.get(key)?.revision !== revision) throw conflict(key);
    return this.write(key, value);
  }
  async delete(key: string) {
    this.entries.delete(key);
    this.revision++;
    for (const watcher of this.watchers)
      if (matches(watcher.filter, key)) watcher.onChange(key, undefined, this.revision);
  }
  async keys(filter = ">") {
    return [...this.entries.keys()].filter((key) => matches(filter, key));
  }
  /** FAKE: quarantined entries are only remembered here (key → reason). */
  readonly quarantined = new Map<string, string>();
  async quarantine(key: string, revision: number, reason: string) {
    this.quarantined.set(key, reason);
    if (this.entries.get(key)?.revision === revision) await this.delete(key);
  }
  async watch(onChange: (key: string, value: unknown, revision: number) => void, filter = ">") {
    const watcher = { filter, onChange };
    this.watchers.add(watcher);
    return { unsubscribe: () => this.watchers.delete(watcher) };
  }
  private write(key: string, value: unknown): number {
    this.revision++;
    const text = JSON.stringify(value);
    this.entries.set(key, { value: text, revision: this.revision });
    for (const watcher of this.watchers) {
      if (matches(watcher.filter, key)) watcher.onChange(key, JSON.parse(text), this.revision);
    }
    return this.revision;
  }
}

function conflict(key: string): InsituError {
  return new InsituError(`compare-and-set failed for ${key}: it changed since it was read`, {
    code: ErrorCode.conflict,
    retryable: true,
    details: { key },
  });
}
