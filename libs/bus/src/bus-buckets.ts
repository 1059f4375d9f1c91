/**
 * KV and object buckets, and the quarantine that takes entries failing to decode. Part of NatsBus (nats-
 * bus.ts): each function takes the bus first.
 */
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { StorageType } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import { headers as createHeaders, nanos } from "@nats-io/nats-core";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { type DecodeLimits, encodeJson, parseBounded } from "./codec.js";
import type { KvBucket, KvOptions, ObjectBucket, ObjectBucketOptions } from "./types.js";
import type { NatsBus } from "./nats-bus.js";
import { ensureStream } from "./bus-events.js";
import { guarded, guardedApi } from "./bus-permissions.js";
import { DEAD_LETTER_LIMITS } from "./bus-work.js";

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

export async function kv(bus: NatsBus, bucket: string, options: KvOptions = {}): Promise<KvBucket> {
  const kv = await guardedApi(bus, `KV_${bus.naming.bucket(bucket)}`, () =>
    new Kvm(bus.connection).create(bus.naming.bucket(bucket), {
      history: options.history ?? 1,
      storage: StorageType.File,
      ...(options.ttlMs ? { ttl: options.ttlMs } : {}),
      replicas: bus.replicas,
    }),
  );
  const limits = bus.limits;
  const logger = bus.logger;
  const kvSubject = (key: string) => `$KV.${bus.naming.bucket(bucket)}.${key}`;
  const quarantine = (key: string, revision: number, reason: string, raw?: Uint8Array) =>
    quarantineEntry(
      bus,
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
    if (bytes.byteLength > bus.inlineLimit) {
      throw new InsituError(`KV value of ${bytes.byteLength} bytes is too large; store it as an object`, {
        code: ErrorCode.messageTooLarge,
        details: { bucket, size: bytes.byteLength, limit: bus.inlineLimit },
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
    put: (key, value) => guarded(bus, kvSubject(key), () => kv.put(key, encodeValue(value))),
    create: (key, value) =>
      guarded(bus, kvSubject(key), () =>
        kv.create(key, encodeValue(value)).catch((error: unknown) => throwConflict(error, key)),
      ),
    update: (key, value, revision) =>
      guarded(bus, kvSubject(key), () =>
        kv.update(key, encodeValue(value), revision).catch((error: unknown) => throwConflict(error, key)),
      ),
    delete: async (key) => {
      await guarded(bus, kvSubject(key), () => kv.delete(key));
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
export async function quarantineEntry(
  bus: NatsBus,
  bucket: string,
  key: string,
  revision: number,
  reason: string,
  raw: Uint8Array | undefined,
  remove: () => Promise<void>,
  readRaw?: () => Promise<Uint8Array | undefined>,
): Promise<void> {
  const id = `${bucket}/${key}@${revision}`;
  if (bus.reportedBadEntries.has(id)) return;
  bus.reportedBadEntries.add(id);
  if (bus.reportedBadEntries.size > 10_000) bus.reportedBadEntries.clear();
  bus.metrics?.badEntries.inc({ bucket });
  bus.logger.warn("bad stored entry skipped and quarantined", { bucket, key, revision, reason });
  try {
    const bytes = raw ?? (await readRaw?.()) ?? new Uint8Array();
    await ensureStream(
      bus,
      bus.naming.stream("quarantine"),
      { subjects: [bus.naming.subject("quarantine.>")], ...DEAD_LETTER_LIMITS },
      { enforceLimits: true },
    );
    const headers = createHeaders();
    headers.set(QUARANTINE_HEADERS.bucket, bucket);
    headers.set(QUARANTINE_HEADERS.key, key);
    headers.set(QUARANTINE_HEADERS.revision, String(revision));
    headers.set(QUARANTINE_HEADERS.reason, reason.replace(/[\r\n]+/g, " ").slice(0, 500));
    headers.set(QUARANTINE_HEADERS.size, String(bytes.byteLength));
    const token = bucket.replace(/[^A-Za-z0-9_-]/g, "_") || "_";
    await bus.js.publish(bus.naming.subject(`quarantine.${token}`), bytes.subarray(0, QUARANTINE_MAX_BYTES), {
      headers,
      msgID: `q:${id}`,
    });
    await remove();
  } catch (error) {
    bus.logger.error("could not quarantine a bad entry (skipped all the same)", { bucket, key, error });
  }
}

export async function objects(
  bus: NatsBus,
  bucket: string,
  options: ObjectBucketOptions = {},
): Promise<ObjectBucket> {
  const store = await guardedApi(bus, `OBJ_${bus.naming.bucket(bucket)}`, () =>
    new Objm(bus.connection).create(bus.naming.bucket(bucket), {
      storage: StorageType.File,
      ...(options.ttlMs ? { ttl: nanos(options.ttlMs) } : {}),
      replicas: bus.replicas,
    }),
  );
  const limits = bus.limits;
  const quarantine = async (name: string, reason: string, raw?: Uint8Array) => {
    // Objects have no revision of their own: the stream sequence of their metadata stands in.
    const revision = await store
      .info(name)
      .then((info) => info?.revision ?? 0)
      .catch(() => 0);
    await quarantineEntry(
      bus,
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
