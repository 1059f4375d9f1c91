import { randomBytes } from "node:crypto";

/** W3C trace context: `00-<trace-id 32 hex>-<span-id 16 hex>-01`. */
export interface TraceContext {
  traceId: string;
  spanId: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

export function newTrace(): TraceContext {
  return { traceId: randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex") };
}

/** A child span in the same trace. */
export function childSpan(parent: TraceContext): TraceContext {
  return { traceId: parent.traceId, spanId: randomBytes(8).toString("hex") };
}

export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-01`;
}

export function parseTraceparent(value: string | undefined | null): TraceContext | undefined {
  const match = value ? TRACEPARENT.exec(value) : null;
  return match ? { traceId: match[1]!, spanId: match[2]! } : undefined;
}
