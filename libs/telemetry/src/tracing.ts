import { AsyncLocalStorage } from "node:async_hooks";
import {
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace as otelTrace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { childSpan, newTrace, type TraceContext } from "./trace.js";

/**
 * OpenTelemetry spans for every hop, with the context carried in the envelope's traceparent
 * (docs/adr/0002, docs/adr/0083). Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then nothing is exported and the call sites take
 * the same path they took before tracing existed (no AsyncLocalStorage, no span objects).
 *
 * The provider is not registered globally: call sites pass their parent explicitly (from the
 * envelope) or take it from this module's AsyncLocalStorage, which the bus sets around every
 * handler, so a handler's outgoing requests and work items continue the trace it is part of.
 */
export type SpanKindName = "internal" | "server" | "client" | "producer" | "consumer";

export interface SpanOptions {
  kind?: SpanKindName;
  /** Parent span; defaults to the current one (the handler being run), else a new trace. */
  parent?: TraceContext;
  attributes?: Record<string, string | number | boolean | undefined>;
}

export interface ActiveSpan {
  /** Ids to put into the envelope's traceparent of whatever this span sends. */
  readonly trace: TraceContext;
  setAttributes(attributes: Record<string, string | number | boolean | undefined>): void;
  /** Ends the span; an error marks it failed and is recorded. Idempotent. */
  end(error?: unknown): void;
}

const KINDS: Record<SpanKindName, SpanKind> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

const current = new AsyncLocalStorage<TraceContext>();
let tracer: Tracer | undefined;
let provider: BasicTracerProvider | undefined;

/** True when spans are recorded and exported. */
export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

/** The span of the handler this code runs in, when tracing is on. */
export function currentTrace(): TraceContext | undefined {
  return tracer ? current.getStore() : undefined;
}

/** Runs `fn` with `trace` as the current span (only when tracing is on). */
export function withTrace<T>(trace: TraceContext, fn: () => T): T {
  return tracer ? current.run(trace, fn) : fn();
}

export interface TracingHandle {
  readonly enabled: boolean;
  /** Flushes and stops the exporter; never rejects (a collector that is down is logged, not thrown). */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing for this process when an OTLP endpoint is configured. Idempotent: a second call
 * returns a handle to the same provider. `onError` receives export/shutdown failures.
 */
export function initTracing(options: {
  serviceName: string;
  env?: NodeJS.ProcessEnv;
  onError?: (error: unknown) => void;
}): TracingHandle {
  const env = options.env ?? process.env;
  const base = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!base && !provider) return { enabled: false, shutdown: async () => undefined };
  if (!provider) {
    const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${base!.replace(/\/+$/, "")}/v1/traces`;
    const exporter = new OTLPTraceExporter({ url });
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        "service.name": env.OTEL_SERVICE_NAME ?? options.serviceName,
        "service.namespace": "insitu",
      }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    tracer = provider.getTracer("insitu");
  }
  const owned = provider;
  return {
    enabled: true,
    async shutdown() {
      if (provider !== owned) return;
      tracer = undefined;
      provider = undefined;
      try {
        // Bounded: the exporter retries a dead collector for several seconds, and a stopping
        // service must not wait on it.
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("trace export did not finish within 2 s")), 2_000);
          timer.unref();
        });
        await Promise.race([owned.shutdown(), timeout]).finally(() => clearTimeout(timer));
      } catch (error) {
        // The collector is down: spans are lost, the service still exits cleanly.
        options.onError?.(error);
      }
    },
  };
}

const disabledSpan = (trace: TraceContext): ActiveSpan => ({
  trace,
  setAttributes: () => undefined,
  end: () => undefined,
});

/** Starts a span; when tracing is off, returns the ids the bus has always made and no-ops. */
export function startSpan(name: string, options: SpanOptions = {}): ActiveSpan {
  const parent = options.parent ?? currentTrace();
  if (!tracer) return disabledSpan(parent ? childSpan(parent) : newTrace());
  const parentContext = parent
    ? otelTrace.setSpanContext(ROOT_CONTEXT, {
        traceId: parent.traceId,
        spanId: parent.spanId,
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      })
    : ROOT_CONTEXT;
  const span: Span = tracer.startSpan(
    name,
    { kind: KINDS[options.kind ?? "internal"], attributes: clean(options.attributes) },
    parentContext,
  );
  const { traceId, spanId } = span.spanContext();
  let ended = false;
  return {
    trace: { traceId, spanId },
    setAttributes: (attributes) => span.setAttributes(clean(attributes)),
    end(error) {
      if (ended) return;
      ended = true;
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      span.end();
    },
  };
}

/** Runs `fn` in a span that is current while it runs; the span fails if `fn` throws. */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: ActiveSpan) => Promise<T>,
): Promise<T> {
  if (!tracer) return fn(disabledSpan(options.parent ?? newTrace()));
  const span = startSpan(name, options);
  try {
    const result = await current.run(span.trace, () => fn(span));
    span.end();
    return result;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

function clean(
  attributes: Record<string, string | number | boolean | undefined> | undefined,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (attributes)
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}
