/**
 * Large payloads by reference: bodies above the inline limit travel through the payload object store
 * (docs/adr/0177). Part of NatsBus (nats-bus.ts): each function takes the bus first.
 */
import { createHash, randomUUID } from "node:crypto";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { formatTraceparent, type TraceContext } from "@insitu/telemetry";
import { StorageType } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { headers as createHeaders, nanos } from "@nats-io/nats-core";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { encodeJson, parseBounded } from "./codec.js";
import type { NatsBus } from "./nats-bus.js";
import { TRACEPARENT_HEADER } from "./bus-context.js";
import { guardedApi } from "./bus-permissions.js";

export const PAYLOAD_REF_HEADER = "Insitu-Payload-Ref";

const PAYLOAD_BUCKET = "payloads";

interface PayloadReference {
  bucket: string;
  name: string;
  size: number;
  /**
   * Hex sha-256 of the body, set by the sender and checked by the reader: every role may write the
   * shared payload store, so a body replaced there is refused, not used (docs/adr/0177). Absent
   * only in references written before it (read as before).
   */
  sha256?: string;
}

/**
 * Inline messages carry their trace context in the envelope only: NATS headers roughly double
 * the p50 of a loopback request (see docs/adr/0002-trace-context-in-the-envelope.md). Headers
 * are added only when the body travels by reference, where the body cannot carry them.
 */
export async function outbound(
  bus: NatsBus,
  body: Uint8Array,
  trace: TraceContext,
): Promise<{ bytes: Uint8Array; headers?: MsgHdrs }> {
  if (body.byteLength <= bus.inlineLimit) return { bytes: body };
  const headers = createHeaders();
  headers.set(TRACEPARENT_HEADER, formatTraceparent(trace));
  const store = await payloads(bus);
  const name = randomUUID();
  await store.putBlob({ name }, body);
  const reference: PayloadReference = {
    bucket: PAYLOAD_BUCKET,
    name,
    size: body.byteLength,
    sha256: createHash("sha256").update(body).digest("hex"),
  };
  headers.set(PAYLOAD_REF_HEADER, "1");
  return { bytes: encodeJson(reference), headers };
}

export async function inbound(
  bus: NatsBus,
  bytes: Uint8Array,
  headers: MsgHdrs | undefined,
): Promise<Uint8Array> {
  if (!headers?.get(PAYLOAD_REF_HEADER)) return bytes;
  const reference = parseBounded(bytes, { maxBytes: 4096, maxDepth: 3 }) as Partial<PayloadReference>;
  if (typeof reference.name !== "string" || typeof reference.size !== "number") {
    throw new InsituError("malformed payload reference", {
      code: ErrorCode.invalidMessage,
      category: "user",
    });
  }
  if (reference.size > bus.limits.maxBytes) {
    throw new InsituError(`referenced payload of ${reference.size} bytes exceeds the limit`, {
      code: ErrorCode.messageTooLarge,
      category: ErrorCategory.user,
      details: { size: reference.size, limit: bus.limits.maxBytes },
    });
  }
  const blob = await (await payloads(bus)).getBlob(reference.name);
  if (!blob) {
    throw new InsituError("referenced payload is gone (expired or never stored)", {
      code: ErrorCode.notFound,
      category: ErrorCategory.system,
      details: { name: reference.name },
    });
  }
  if (
    reference.sha256 !== undefined &&
    createHash("sha256").update(blob).digest("hex") !== reference.sha256
  ) {
    throw new InsituError("a payload sent by reference was replaced in the payload store", {
      code: ErrorCode.payloadDigestMismatch,
      category: ErrorCategory.system,
      details: { name: reference.name, size: blob.byteLength },
    });
  }
  return blob;
}

export function payloads(bus: NatsBus): Promise<ObjectStore> {
  bus.payloadStore ??= guardedApi(bus, `OBJ_${bus.naming.bucket(PAYLOAD_BUCKET)}`, () =>
    new Objm(bus.connection).create(bus.naming.bucket(PAYLOAD_BUCKET), {
      storage: StorageType.File,
      replicas: bus.replicas,
      ttl: nanos(24 * 3600 * 1000),
    }),
  );
  return bus.payloadStore;
}
