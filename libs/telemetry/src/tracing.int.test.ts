import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  currentTrace,
  initTracing,
  inSpan,
  startSpan,
  tracingEnabled,
  type TracingHandle,
} from "./tracing.js";

// Real OTLP/HTTP exporter against a local port where nothing listens (the collector is down).
let handle: TracingHandle | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("tracing", () => {
  it("is off without an OTLP endpoint: no spans, the same ids the bus always made", async () => {
    handle = initTracing({ serviceName: "t", env: {} });
    expect(handle.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
    const parent = { traceId: "a".repeat(32), spanId: "b".repeat(16) };
    const span = startSpan("x", { parent });
    expect(span.trace.traceId).toBe(parent.traceId);
    expect(span.trace.spanId).not.toBe(parent.spanId);
    await inSpan("y", {}, async () => expect(currentTrace()).toBeUndefined());
  });

  it("continues the parent's trace, makes the span current, and survives a collector that is down", async () => {
    const errors: unknown[] = [];
    handle = initTracing({
      serviceName: "t",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}` },
      onError: (error) => errors.push(error),
    });
    expect(handle.enabled).toBe(true);
    const parent = { traceId: "c".repeat(32), spanId: "d".repeat(16) };
    await inSpan("outer", { parent }, async (outer) => {
      expect(outer.trace.traceId).toBe(parent.traceId);
      expect(currentTrace()).toEqual(outer.trace);
      const inner = startSpan("inner");
      expect(inner.trace.traceId).toBe(parent.traceId);
      inner.end();
    });
    await expect(inSpan("fails", {}, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    // Shutdown flushes to the dead collector: it must resolve, and report the failure.
    await expect(handle.shutdown()).resolves.toBeUndefined();
    handle = undefined;
    expect(errors.length).toBeGreaterThan(0);
    expect(tracingEnabled()).toBe(false);
  });
});
