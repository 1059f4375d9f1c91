import { natsConnectOptions } from "./auth.js";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { type JetStreamManager, jetstream, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { DEFAULT_LIMITS, encodeJson, parseBounded } from "./codec.js";
import { Naming } from "./naming.js";

/** One dead letter as an operator sees it: its stream sequence is its handle. */
export interface DeadLetterRecord {
  seq: number;
  /** The work queue's relative subject (`tasks.work`, …). */
  subject: string;
  reason: string;
  code?: string;
  deliveries: number;
  time: string;
  /** The envelope that failed (or `{ base64, size }` when it never parsed). */
  data: unknown;
  /** Set when the stored letter itself cannot be read (garbage written into the stream). */
  unreadable?: string;
}

export interface DeadLetterAdmin {
  /** Letters oldest first, optionally only one queue's (relative subject). */
  list(options?: { subject?: string; limit?: number }): Promise<DeadLetterRecord[]>;
  show(seq: number): Promise<DeadLetterRecord>;
  /** Puts the failed item back on its queue (as a new message) and removes the letter. */
  retry(seq: number): Promise<{ subject: string; id: string }>;
  /** Removes letters (all, or one queue's); returns how many. */
  purge(options?: { subject?: string }): Promise<number>;
  close(): Promise<void>;
}

const PAYLOAD_REF_HEADER = "Insitu-Payload-Ref";

/**
 * Operator access to the dead-letter stream (`insitu dlq`). Its own connection, so it works
 * against any running stack without a Bus; unreadable letters are listed, never fatal.
 */
export async function openDeadLetterAdmin(options: {
  url: string;
  prefix?: string;
}): Promise<DeadLetterAdmin> {
  const connection = await connect({ ...natsConnectOptions(options.url), name: "insitu-dlq" }).catch(
    (error: unknown) => {
      throw new InsituError(`cannot connect to NATS at ${options.url}: ${(error as Error).message}`, {
        code: ErrorCode.unavailable,
        category: ErrorCategory.system,
        retryable: true,
        cause: error,
      });
    },
  );
  return deadLetterAdmin(connection, new Naming(options.prefix ?? "insitu"), true);
}

export function deadLetterAdmin(connection: NatsConnection, naming: Naming, owned = false): DeadLetterAdmin {
  const stream = naming.deadLetterStream();
  const subjectPrefix = `${naming.deadLetterSubject("")}`;
  let jsmPromise: Promise<JetStreamManager> | undefined;
  const jsm = () => {
    jsmPromise ??= jetstreamManager(connection);
    return jsmPromise;
  };

  async function read(message: StoredMsg): Promise<DeadLetterRecord> {
    const relative = message.subject.startsWith(subjectPrefix)
      ? message.subject.slice(subjectPrefix.length)
      : message.subject;
    try {
      let bytes = message.data;
      if (message.header?.get(PAYLOAD_REF_HEADER)) {
        const reference = parseBounded(bytes, { maxBytes: 4096, maxDepth: 3 }) as { name?: unknown };
        const store = await new Objm(connection).open(naming.bucket("payloads"));
        const blob = typeof reference.name === "string" ? await store.getBlob(reference.name) : null;
        if (!blob) throw new Error("its by-reference body is gone");
        bytes = blob;
      }
      const letter = parseBounded(bytes, { ...DEFAULT_LIMITS, maxBytes: 64 * 1024 * 1024 }) as Record<
        string,
        unknown
      >;
      if (typeof letter !== "object" || letter === null || typeof letter.reason !== "string") {
        throw new Error("not a dead letter");
      }
      return {
        seq: message.seq,
        subject: typeof letter.subject === "string" ? letter.subject : relative,
        reason: letter.reason,
        ...(typeof letter.code === "string" ? { code: letter.code } : {}),
        deliveries: typeof letter.deliveries === "number" ? letter.deliveries : 0,
        time: typeof letter.time === "string" ? letter.time : message.time.toISOString(),
        data: letter.data,
      };
    } catch (error) {
      return {
        seq: message.seq,
        subject: relative,
        reason: "unreadable dead letter",
        deliveries: 0,
        time: message.time.toISOString(),
        data: {
          base64: Buffer.from(message.data.subarray(0, 1024)).toString("base64"),
          size: message.data.length,
        },
        unreadable: (error as Error).message,
      };
    }
  }

  async function get(seq: number): Promise<StoredMsg> {
    let message: StoredMsg | null = null;
    let cause: unknown;
    try {
      message = await (await jsm()).streams.getMessage(stream, { seq });
    } catch (error) {
      cause = error;
    }
    if (message) return message;
    {
      const error = cause;
      throw new InsituError(`no dead letter #${seq}`, {
        code: ErrorCode.notFound,
        category: ErrorCategory.user,
        details: { seq },
        cause: error,
      });
    }
  }

  return {
    async list({ subject, limit = 1000 } = {}) {
      const filter = naming.deadLetterSubject(subject ?? ">");
      let count = 0;
      try {
        const info = await (await jsm()).streams.info(stream, { subjects_filter: filter });
        for (const n of Object.values(info.state.subjects ?? {})) count += n;
      } catch {
        return []; // no dead-letter stream yet: nothing was ever dead-lettered
      }
      if (count === 0) return [];
      const consumer = await jetstream(connection).consumers.get(stream, { filter_subjects: filter });
      const messages = await consumer.consume({ max_messages: 256 });
      const giveUp = setTimeout(() => void messages.stop(), 10_000);
      const records: DeadLetterRecord[] = [];
      try {
        for await (const message of messages) {
          records.push(
            await read({
              seq: message.seq,
              subject: message.subject,
              data: message.data,
              header: message.headers,
              time: new Date(Math.floor(message.info.timestampNanos / 1e6)),
            } as unknown as StoredMsg),
          );
          if (message.info.pending === 0 || records.length >= limit) break;
        }
      } finally {
        clearTimeout(giveUp);
        void messages.stop();
      }
      return records;
    },

    async show(seq) {
      return read(await get(seq));
    },

    async retry(seq) {
      const letter = await read(await get(seq));
      const envelope = letter.data as { id?: unknown; type?: unknown } | undefined;
      if (
        letter.unreadable ||
        !envelope ||
        typeof envelope.id !== "string" ||
        typeof envelope.type !== "string"
      ) {
        throw new InsituError(`dead letter #${seq} holds no readable work item; retrying would fail again`, {
          code: ErrorCode.invalidMessage,
          category: ErrorCategory.user,
          details: { seq },
        });
      }
      // A fresh message id: the original is still inside the queue's duplicate window for 2 minutes.
      const id = `${envelope.id}.retry-${seq}`;
      await jetstream(connection).publish(naming.subject(letter.subject), encodeJson(envelope), {
        msgID: id,
      });
      await (await jsm()).streams.deleteMessage(stream, seq, false);
      return { subject: letter.subject, id };
    },

    async purge({ subject } = {}) {
      try {
        const result = await (await jsm()).streams.purge(
          stream,
          subject ? { filter: naming.deadLetterSubject(subject) } : undefined,
        );
        return result.purged;
      } catch (error) {
        if (/stream not found/i.test((error as Error).message)) return 0;
        throw error;
      }
    },

    async close() {
      if (owned) await connection.close();
    },
  };
}
