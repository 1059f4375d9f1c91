import { randomUUID } from "node:crypto";

/** W3C trace context: `00-<trace-id 32 hex>-<span-id 16 hex>-01`. */
export interface TraceContext {
  traceId: string;
  spanId: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

// Ids are made on every bus message, so they must be cheap. Trace ids: a v4 UUID without dashes
// (32 hex digits, 122 random bits; randomUUID draws from a cached entropy pool). Span ids only need
// to be unique within a trace: a random per-process base plus a counter, no entropy per call.
function randomHex32(): string {
  const uuid = randomUUID();
  return uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(14, 18) + uuid.slice(19, 23) + uuid.slice(24);
}

const spanBase = randomHex32().slice(0, 8);
let spanCounter = Math.floor(Math.random() * 0xffffffff);

function nextSpanId(): string {
  spanCounter = (spanCounter + 1) >>> 0;
  return spanBase + spanCounter.toString(16).padStart(8, "0");
}

export function newTrace(): TraceContext {
  return { traceId: randomHex32(), spanId: nextSpanId() };
}

/** A child span in the same trace. */
export function childSpan(parent: TraceContext): TraceContext {
  return { traceId: parent.traceId, spanId: nextSpanId() };
}

export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-01`;
}

export function parseTraceparent(value: string | undefined | null): TraceContext | undefined {
  const match = value ? TRACEPARENT.exec(value) : null;
  return match ? { traceId: match[1]!, spanId: match[2]! } : undefined;
}
