import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  findRepoRoot,
  type OtlpStandIn,
  type Stack,
  startOtlpStandIn,
  startStack,
} from "../harness/stack.js";

/**
 * One task, one trace (docs/adr/0083): every service exports OTLP/HTTP to a local stand-in
 * collector; a question asked through the gateway must come back as a single connected trace
 * that spans the gateway, manager, tool developer, sandbox, executor and integrator. Real
 * nats-server, every service its own process, the (FAKE, scripted) model of scenarios/loop.json,
 * tools run for real in Deno.
 */
const root = findRepoRoot();
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;

let stack: Stack;
let collector: OtlpStandIn;

beforeAll(async () => {
  collector = await startOtlpStandIn();
  stack = await startStack({
    services: ["registry", "sandbox", "gateway", ...ROLES],
    env: {
      LOG_LEVEL: "warn",
      WORK_ACK_WAIT_MS: "2000",
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
    },
    serviceEnv: Object.fromEntries(
      ROLES.map((role) => [role, { INSITU_SCRIPT: join(root, "test/e2e/scenarios/loop.json") }]),
    ),
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await collector?.close();
});

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("traces across services", () => {
  it("shows one task asked through the gateway as one connected trace over every role", async () => {
    const base = stack.url("gateway");
    const submitted = await fetch(`${base}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        question: "How many vowels are in the word 'encyclopedia'?",
        taskId: "trace-1",
      }),
    });
    expect(submitted.status).toBe(202);
    const record = await waitFor(async () => {
      const body = (await (await fetch(`${base}/v1/tasks/trace-1`)).json()) as { status?: string };
      return body.status === "succeeded" || body.status === "failed" ? body : undefined;
    }, 90_000);
    expect(record.status).toBe("succeeded");

    const root = await waitFor(
      () => collector.spans.find((span) => span.service === "gateway" && span.name === "POST /v1/tasks"),
      10_000,
    );
    expect(root.parentSpanId).toBeUndefined();
    const wanted = ["gateway", "manager", "tool-developer", "sandbox", "executor", "integrator"];
    // Spans are batched (100 ms here) and a span is exported when it ends, after its children:
    // wait until every role's spans have arrived and every parent has too (or time runs out).
    const orphansOf = (spans: typeof collector.spans) => {
      const ids = new Set(spans.map((span) => span.spanId));
      return spans.filter((span) => span !== root && !ids.has(span.parentSpanId ?? ""));
    };
    const inTrace = () => collector.spans.filter((span) => span.traceId === root.traceId);
    await waitFor(() => {
      const spans = inTrace();
      const services = new Set(spans.map((span) => span.service));
      return wanted.every((service) => services.has(service)) && orphansOf(spans).length === 0
        ? true
        : undefined;
    }, 15_000).catch(() => undefined);
    const trace = inTrace();

    // Connected: every span but the root has its parent in the same trace.
    const orphans = orphansOf(trace);
    expect(orphans.map((span) => `${span.service}:${span.name}`)).toEqual([]);
    // Every hop kind is there.
    const names = trace.map((span) => `${span.service}:${span.name}`);
    expect(names).toContain("gateway:request task.submit");
    expect(names.some((name) => name.startsWith("manager:work "))).toBe(true);
    expect(names.some((name) => name.startsWith("tool-developer:work "))).toBe(true);
    expect(names.some((name) => name.startsWith("executor:work "))).toBe(true);
    expect(names.some((name) => name.startsWith("integrator:work "))).toBe(true);
    // The model calls carry their token counts; the sandbox calls their outcome.
    const model = trace.filter((span) => span.name.startsWith("model "));
    expect(model.length).toBeGreaterThan(0);
    expect(model.every((span) => Number(span.attributes["gen_ai.usage.input_tokens"]) > 0)).toBe(true);
    const exec = trace.filter((span) => span.service === "sandbox" && span.name === "sandbox exec");
    expect(exec.map((span) => span.attributes["insitu.sandbox.outcome"])).toContain("ok");
    expect(trace.some((span) => span.service === "sandbox" && span.name === "sandbox test")).toBe(true);
    // Nothing the exporter sent was left undecoded, and no work item of the task went to another
    // trace (each status poll through the gateway is its own trace; the work is not).
    expect(collector.rejected).toEqual([]);
    const work = collector.spans.filter(
      (span) => span.attributes["insitu.task_id"] === "trace-1" && span.name.startsWith("work "),
    );
    expect(work.length).toBeGreaterThanOrEqual(4);
    expect(new Set(work.map((span) => span.traceId))).toEqual(new Set([root.traceId]));
  });
});
