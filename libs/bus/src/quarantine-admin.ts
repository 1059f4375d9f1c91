import { natsConnectOptions } from "./auth.js";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Naming } from "./naming.js";
import { QUARANTINE_HEADERS } from "./nats-bus.js";

/** A stored entry that failed to decode and was moved out of its bucket. */
export interface QuarantinedEntry {
  seq: number;
  bucket: string;
  key: string;
  revision: number;
  reason: string;
  /** Size of the entry as it was stored (the copy is cut at 512 KiB). */
  size: number;
  time: string;
  /** The first bytes, as text when they are UTF-8, else base64. */
  preview: string;
}

/** Operator access to the quarantine (`insitu quarantine list|purge`). */
export async function openQuarantine(options: { url: string; prefix?: string }) {
  const connection = await connect({ ...natsConnectOptions(options.url), name: "insitu-quarantine" }).catch(
    (error: unknown) => {
      throw new InsituError(`cannot connect to NATS at ${options.url}: ${(error as Error).message}`, {
        code: ErrorCode.unavailable,
        category: ErrorCategory.system,
        retryable: true,
        cause: error,
      });
    },
  );
  const naming = new Naming(options.prefix ?? "insitu");
  const stream = naming.stream("quarantine");
  const jsm = await jetstreamManager(connection);
  return {
    async list(options: { bucket?: string; limit?: number } = {}): Promise<QuarantinedEntry[]> {
      const limit = options.limit ?? 1000;
      const filter = naming.subject(`quarantine.${options.bucket ?? ">"}`);
      let count = 0;
      try {
        const info = await jsm.streams.info(stream, { subjects_filter: filter });
        for (const n of Object.values(info.state.subjects ?? {})) count += n;
      } catch {
        return [];
      }
      if (count === 0) return [];
      const consumer = await jetstream(connection).consumers.get(stream, { filter_subjects: filter });
      const messages = await consumer.consume({ max_messages: 256 });
      const giveUp = setTimeout(() => void messages.stop(), 10_000);
      const entries: QuarantinedEntry[] = [];
      try {
        for await (const message of messages) {
          const header = (name: string) => message.headers?.get(name) ?? "";
          const head = message.data.subarray(0, 200);
          let preview: string;
          try {
            preview = new TextDecoder("utf-8", { fatal: true }).decode(head);
          } catch {
            preview = `base64:${Buffer.from(head).toString("base64")}`;
          }
          entries.push({
            seq: message.seq,
            bucket: header(QUARANTINE_HEADERS.bucket),
            key: header(QUARANTINE_HEADERS.key),
            revision: Number(header(QUARANTINE_HEADERS.revision)),
            reason: header(QUARANTINE_HEADERS.reason),
            size: Number(header(QUARANTINE_HEADERS.size)),
            time: new Date(Math.floor(message.info.timestampNanos / 1e6)).toISOString(),
            preview,
          });
          if (message.info.pending === 0 || entries.length >= limit) break;
        }
      } finally {
        clearTimeout(giveUp);
        void messages.stop();
      }
      return entries;
    },
    async purge(): Promise<number> {
      try {
        return (await jsm.streams.purge(stream)).purged;
      } catch {
        return 0;
      }
    },
    async close(): Promise<void> {
      await connection.close();
    },
  };
}
