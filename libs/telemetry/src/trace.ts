import { randomUUID } from "node:crypto";

/** W3C trace context: `00-<trace-id 32 hex>-<span-id 16 hex>-01`. */
export interface TraceContext {
  traceId: string;
  spanId: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

// randomUUID draws from a cached entropy pool: ~0.2 µs against ~2 µs for randomBytes, which shows
// on the request hot path. A v4 UUID without dashes is 32 hex digits, 122 of them random.
function randomHex32(): string {
  return randomUUID().replace(/-/g, "");
}

export function newTrace(): TraceContext {
  return { traceId: randomHex32(), spanId: randomHex32().slice(0, 16) };
}

/** A child span in the same trace. */
export function childSpan(parent: TraceContext): TraceContext {
  return { traceId: parent.traceId, spanId: randomHex32().slice(0, 16) };
}

export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-01`;
}

export function parseTraceparent(value: string | undefined | null): TraceContext | undefined {
  const match = value ? TRACEPARENT.exec(value) : null;
  return match ? { traceId: match[1]!, spanId: match[2]! } : undefined;
}
