/**
 * Work queues: enqueue, consume with ack-deadline heartbeats, and the dead-letter stream. Part of NatsBus
 * (nats-bus.ts): each function takes the bus first.
 */
import { randomUUID } from "node:crypto";
import type { WorkQueueContract } from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { formatTraceparent, newTrace, startSpan, tracingEnabled } from "@insitu/telemetry";
import { AckPolicy, DiscardPolicy, type JsMsg, RetentionPolicy } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { decodeBareEnvelope, decodeEnvelope, encodeEnvelope, encodeJson, parseBounded } from "./codec.js";
import { Semaphore } from "./semaphore.js";
import type { ConsumeOptions, Consumer, DeadLetter, EnqueueOptions, WorkContext } from "./types.js";
import type { NatsBus } from "./nats-bus.js";
import { messageContext, traced } from "./bus-context.js";
import { ensureStream, manager } from "./bus-events.js";
import { inbound, outbound } from "./bus-offload.js";
import { guarded, guardedApi } from "./bus-permissions.js";

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

/**
 * Removes a work item for good. A bare `+TERM`: nats-server 2.9 ignores `+TERM <reason>` and
 * redelivers the item until max-deliver (measured: 57 poison items became 1,425 dead letters and
 * held the ack-pending slots). The reason travels in the dead letter instead.
 */
function terminate(message: JsMsg): void {
  message.term();
}

export async function enqueue<C extends WorkQueueContract>(
  bus: NatsBus,
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
  await ensureWorkStream(bus, contract);
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
  const { bytes, headers } = await outbound(bus, body, trace);
  const subject = bus.naming.subject(contract.subject);
  await guarded(bus, subject, () => bus.js.publish(subject, bytes, { headers, msgID: id }));
}

export async function consume<C extends WorkQueueContract>(
  bus: NatsBus,
  contract: C,
  handler: (data: never, context: WorkContext) => Promise<void>,
  options: ConsumeOptions = {},
): Promise<Consumer> {
  const stream = bus.naming.stream(contract.stream);
  const durable = options.durable ?? stream;
  const maxDeliver = options.maxDeliver ?? 5;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const backoff = options.backoffMs ?? [1_000, 5_000, 15_000, 30_000];
  const concurrency = options.concurrency ?? 1;
  await ensureWorkStream(bus, contract);
  // One delivery beyond maxDeliver lets us see (and dead-letter) a message whose consumers all
  // died without acking; otherwise the server would stop delivering it silently.
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWaitMs),
    max_deliver: maxDeliver + 1,
    max_ack_pending: Math.max(concurrency * 4, 16),
  };
  const messages = await guardedApi(bus, stream, async () => {
    const jsm = await manager(bus);
    try {
      await jsm.consumers.add(stream, config);
    } catch (error) {
      if (InsituError.from(error).code === ErrorCode.busForbidden) throw error;
      await jsm.consumers.update(stream, durable, config);
    }
    const consumer = await bus.js.consumers.get(stream, durable);
    return consumer.consume({ max_messages: concurrency, expires: 5_000 });
  });
  const semaphore = new Semaphore(concurrency);
  const abort = new AbortController();
  const loop = (async () => {
    for await (const message of messages) {
      const release = await semaphore.acquire();
      void handleWork(bus, contract, handler, message, {
        maxDeliver,
        ackWaitMs,
        backoff,
        signal: abort.signal,
      })
        .catch((error: unknown) => bus.logger.error("work handling failed", { error }))
        .finally(release);
    }
  })().catch((error: unknown) => bus.logger.error("work queue consumer stopped", { stream, error }));
  const stop = async (): Promise<void> => {
    abort.abort();
    await messages.close().catch(() => undefined);
    await loop;
    await semaphore.idle();
  };
  bus.stoppers.add(stop);
  return {
    stop: async () => {
      bus.stoppers.delete(stop);
      await stop();
    },
  };
}

export async function handleWork(
  bus: NatsBus,
  contract: WorkQueueContract,
  handler: (data: never, context: WorkContext) => Promise<void>,
  message: JsMsg,
  settings: { maxDeliver: number; ackWaitMs: number; backoff: number[]; signal: AbortSignal },
): Promise<void> {
  const deliveries = message.info.deliveryCount;
  let raw: Uint8Array = message.data;
  let decoded: ReturnType<typeof decodeEnvelope>;
  try {
    raw = await inbound(bus, message.data, message.headers);
    decoded = decodeEnvelope(raw, contract.message, bus.limits);
  } catch (error) {
    // A payload that cannot parse never will: dead-letter it at once.
    bus.metrics?.rejected.inc({ subject: contract.subject, code: InsituError.from(error).code });
    await deadLetter(bus, contract, raw, InsituError.from(error), deliveries);
    terminate(message);
    return;
  }
  if (deliveries > settings.maxDeliver) {
    const reason = new InsituError(
      `delivered ${deliveries - 1} times without an ack: every consumer died or overran its ack deadline`,
      { code: "DELIVERY_LIMIT", details: { deliveries: deliveries - 1 } },
    );
    await deadLetter(bus, contract, raw, reason, deliveries - 1);
    terminate(message);
    return;
  }
  const context: WorkContext = {
    ...messageContext(bus, decoded.envelope, message.subject, message.headers),
    deliveryCount: deliveries,
    heartbeat: () => message.working(),
    signal: settings.signal,
  };
  // Keep the ack deadline moving while the handler works; if this process dies the heartbeats
  // stop and the server redelivers after ack_wait.
  const heartbeat = setInterval(() => message.working(), Math.max(100, Math.floor(settings.ackWaitMs / 3)));
  try {
    if (tracingEnabled()) {
      await traced(`work ${contract.stream}`, "consumer", context, message.subject, () =>
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
      await deadLetter(bus, contract, raw, typed, deliveries);
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

export async function deadLetter(
  bus: NatsBus,
  contract: WorkQueueContract,
  raw: Uint8Array,
  reason: InsituError,
  deliveries: number,
): Promise<void> {
  await ensureDeadLetterStream(bus);
  let data: unknown;
  try {
    data = decodeBareEnvelope(raw, bus.limits);
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
  const { bytes, headers } = await outbound(bus, encodeJson(letter), newTrace());
  await bus.js.publish(bus.naming.deadLetterSubject(contract.subject), bytes, { headers });
  bus.metrics?.deadLetters.inc({ subject: contract.subject });
}

export async function deadLetters(bus: NatsBus, contract: WorkQueueContract): Promise<DeadLetter[]> {
  await ensureDeadLetterStream(bus);
  const jsm = await manager(bus);
  const stream = bus.naming.deadLetterStream();
  const subject = bus.naming.deadLetterSubject(contract.subject);
  const info = await guardedApi(bus, stream, () => jsm.streams.info(stream, { subjects_filter: subject }));
  const count = info.state.subjects?.[subject] ?? 0;
  if (count === 0) return [];
  const consumer = await bus.js.consumers.get(stream, { filter_subjects: subject });
  const letters: DeadLetter[] = [];
  const batch = await consumer.fetch({ max_messages: Math.min(count, 1000), expires: 2_000 });
  for await (const message of batch) {
    letters.push(parseBounded(await inbound(bus, message.data, message.headers), bus.limits) as DeadLetter);
    if (letters.length >= count) break;
  }
  return letters;
}

export function ensureWorkStream(bus: NatsBus, contract: WorkQueueContract): Promise<void> {
  return ensureStream(bus, bus.naming.stream(contract.stream), {
    subjects: [bus.naming.subject(contract.subject)],
    retention: RetentionPolicy.Workqueue,
    duplicate_window: nanos(120_000),
  });
}

export function ensureDeadLetterStream(bus: NatsBus): Promise<void> {
  return ensureStream(
    bus,
    bus.naming.deadLetterStream(),
    { subjects: [bus.naming.deadLetterSubject(">")], ...DEAD_LETTER_LIMITS },
    { enforceLimits: true },
  );
}
