/**
 * The per-message context handed to handlers (lazy logger and trace) and the span around a handler. Part
 * of NatsBus (nats-bus.ts): each function takes the bus first.
 */
import {
  type Logger,
  newTrace,
  parseTraceparent,
  startSpan,
  type TraceContext,
  withTrace,
} from "@insitu/telemetry";
import type { MsgHdrs } from "@nats-io/nats-core";
import type { MessageContext } from "./types.js";
import type { NatsBus } from "./nats-bus.js";

export const TRACEPARENT_HEADER = "traceparent";

/**
 * Tracing hook: runs a handler in a span whose parent is the envelope's traceparent, with that
 * span current so whatever the handler sends continues the same trace.
 */
export async function traced<T>(
  name: string,
  kind: "server" | "consumer",
  context: MessageContext,
  subject: string,
  fn: () => Promise<T>,
): Promise<T> {
  const span = startSpan(name, {
    kind,
    parent: context.trace,
    attributes: {
      "messaging.system": "nats",
      "messaging.destination.name": subject,
      "insitu.task_id": context.taskId,
    },
  });
  try {
    const result = await withTrace(span.trace, fn);
    span.end();
    return result;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

export function messageContext(
  bus: NatsBus,
  envelope: { id: string; taskId?: string; traceparent?: string },
  subject: string,
  headers?: MsgHdrs,
): MessageContext {
  const base = bus.logger;
  // Both built on first use: most handlers never log or look at the trace, and parsing or
  // making ids per message shows up in the request path's profile.
  let trace: TraceContext | undefined;
  let logger: Logger | undefined;
  const traceOf = (): TraceContext => {
    trace ??= parseTraceparent(envelope.traceparent ?? headers?.get(TRACEPARENT_HEADER)) ?? newTrace();
    return trace;
  };
  const context: MessageContext = {
    id: envelope.id,
    subject,
    get trace() {
      return traceOf();
    },
    get logger() {
      const traceId = traceOf().traceId;
      logger ??= base.child(envelope.taskId ? { traceId, taskId: envelope.taskId } : { traceId });
      return logger;
    },
  };
  if (envelope.taskId !== undefined) context.taskId = envelope.taskId;
  return context;
}
