/**
 * Events: publish and subscribe on JetStream streams, and the streams the bus creates. Part of NatsBus
 * (nats-bus.ts): each function takes the bus first.
 */
import { ADMIN_USER, type EventContract } from "@insitu/contracts";
import { ErrorCode, InsituError } from "@insitu/errors";
import { formatTraceparent, startSpan } from "@insitu/telemetry";
import {
  DeliverPolicy,
  type DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { nanos } from "@nats-io/nats-core";
import { decodeEnvelope, encodeEnvelope } from "./codec.js";
import type { MessageContext, PublishOptions, Subscription } from "./types.js";
import type { NatsBus } from "./nats-bus.js";
import { messageContext } from "./bus-context.js";
import { inbound, outbound } from "./bus-offload.js";
import { guarded, guardedApi } from "./bus-permissions.js";

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

export async function publish<C extends EventContract>(
  bus: NatsBus,
  contract: C,
  data: never,
  options: PublishOptions = {},
): Promise<void> {
  const subject = bus.naming.subject(fillToken(contract.subject, options.token));
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
  const { bytes, headers } = await outbound(bus, body, trace);
  if (contract.stream) {
    await ensureEventStream(bus, contract);
    await guarded(bus, subject, () => bus.js.publish(subject, bytes, { headers }));
  } else {
    bus.connection.publish(subject, bytes, { headers });
  }
}

export function subscribe<C extends EventContract>(
  bus: NatsBus,
  contract: C,
  handler: (data: never, context: MessageContext) => void | Promise<void>,
  options: { token?: string; replay?: boolean } = {},
): Subscription {
  const subject = bus.naming.subject(fillToken(contract.subject, options.token ?? "*"));
  const deliver = async (
    bytes: Uint8Array,
    headers: MsgHdrs | undefined,
    actualSubject: string,
  ): Promise<void> => {
    try {
      const decoded = decodeEnvelope(await inbound(bus, bytes, headers), contract.message, bus.limits);
      await handler(decoded.data as never, messageContext(bus, decoded.envelope, actualSubject, headers));
    } catch (error) {
      bus.metrics?.rejected.inc({ subject: contract.subject, code: InsituError.from(error).code });
      bus.logger.warn("event dropped", { subject: actualSubject, error: InsituError.from(error) });
    }
  };
  if (contract.stream && options.replay !== false) {
    // Durable events: an ordered consumer replays the stream from its start, then follows it.
    let stopped = false;
    let stopMessages: (() => void) | undefined;
    void (async () => {
      await ensureEventStream(bus, contract);
      const streamName = bus.naming.stream(contract.stream!);
      const consumer = await guardedApi(bus, streamName, () =>
        bus.js.consumers.get(streamName, { filter_subjects: subject, deliver_policy: DeliverPolicy.All }),
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
      const messages = await guardedApi(bus, streamName, () => consumer.consume());
      stopMessages = () => {
        void messages.stop();
        release();
      };
      if (stopped) stopMessages();
      for await (const message of messages) await deliver(message.data, message.headers, message.subject);
    })().catch((error: unknown) => bus.logger.error("event replay failed", { subject, error }));
    return {
      unsubscribe: () => {
        if (stopped) return;
        stopped = true;
        stopMessages?.();
      },
    };
  }
  const subscription = bus.connection.subscribe(subject, {
    callback: (error, message) => {
      if (error) {
        bus.logger.error("event subscription failed", { subject, error });
        return;
      }
      void deliver(message.data, message.headers, message.subject);
    },
  });
  return { unsubscribe: () => subscription.unsubscribe() };
}

export function ensureEventStream(bus: NatsBus, contract: EventContract): Promise<void> {
  return ensureStream(bus, bus.naming.stream(contract.stream!), {
    subjects: [bus.naming.subject(contract.subject)],
    retention: RetentionPolicy.Limits,
    max_age: nanos(7 * 24 * 3600 * 1000),
  });
}

export function ensureStream(
  bus: NatsBus,
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
  let pending = bus.ensuredStreams.get(name);
  if (!pending) {
    pending = guardedApi(bus, name, async () => {
      const jsm = await manager(bus);
      try {
        const info = await jsm.streams.info(name);
        // A stream made by an older release has no bounds: give it the current ones. Only the
        // admin may update a stream (ADR 0171): a role leaves it to the next `insitu up`.
        if (
          options.enforceLimits &&
          (info.config.max_msgs !== config.max_msgs || info.config.max_bytes !== config.max_bytes)
        ) {
          if (bus.user !== undefined && bus.user !== ADMIN_USER) {
            bus.logger.warn("stream has outdated bounds; the admin updates it", { stream: name });
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
            num_replicas: bus.replicas,
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
    pending.catch(() => bus.ensuredStreams.delete(name));
    bus.ensuredStreams.set(name, pending);
  }
  return pending;
}

export function manager(bus: NatsBus): Promise<JetStreamManager> {
  bus.jsmPromise ??= jetstreamManager(bus.connection);
  return bus.jsmPromise;
}
