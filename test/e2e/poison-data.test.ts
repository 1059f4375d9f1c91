import { fileURLToPath } from "node:url";
import { type Bus, connectBus, natsConnectOptions, openQuarantine } from "@insitu/bus";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { ServiceErrorCodeHeader, Svcm } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";
import { submitTask } from "./task-client.js";

/**
 * Poison data: garbage (bad UTF-8, bad JSON, the wrong shape, too deep, large) is written by a
 * foreign client into EVERY KV bucket, stream and object store of a running stack; then every
 * service is killed (-9) and restarted. The stack must come back and still finish a task.
 * Scripted (FAKE) model; NATS, every service and the Deno sandbox are real.
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/loop.json", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;
const encoder = new TextEncoder();

const GARBAGE: Record<string, Uint8Array> = {
  utf8: new Uint8Array([0xc3, 0x28, 0xff, 0xfe]),
  json: encoder.encode('{"unterminated": '),
  shape: encoder.encode('{"surprise":true,"record":42,"info":"x"}'),
  deep: encoder.encode(`${"[".repeat(300)}${"]".repeat(300)}`),
  large: encoder.encode(JSON.stringify({ blob: "x".repeat(600 * 1024) })),
  nul: new Uint8Array([0]),
};

let stack: Stack;
let bus: Bus;
let raw: NatsConnection;

beforeAll(async () => {
  stack = await startStack({
    services: ["registry", "sandbox", "gateway", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "2000" },
    serviceEnv: Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-poison" });
  raw = await connect(natsConnectOptions(stack.natsUrl));
});

afterAll(async () => {
  await raw?.close();
  await bus?.drain();
  await stack?.stop();
});

/** Keys that look like what each bucket holds, so the readers' own checks are reached too. */
function keysFor(bucket: string): string[] {
  const base = Object.keys(GARBAGE).map((kind) => `fuzz-${kind}`);
  if (bucket.endsWith("registry")) {
    const hex = "ab".repeat(32);
    return [
      ...base,
      `version.${hex}`,
      `vector.${hex}`,
      `stats.${hex}`,
      "pool.fuzz",
      "task.fuzz",
      "snapshot.99999",
    ];
  }
  return base;
}

describe("garbage in every bucket and stream, then every service killed and restarted", () => {
  it("the stack comes back, quarantines what it met, lists tasks with 200 and still finishes a task", async () => {
    const first = await submitTask(bus, "How many vowels are in the word 'encyclopedia'?", {
      label: "before",
    });
    expect((await first.done).status).toBe("succeeded");

    const jsm = await jetstreamManager(raw);
    const js = jetstream(raw);
    const fuzzed: string[] = [];
    const streamPrefix = stack.prefix.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
    const bucketPrefix = stack.prefix.replace(/[^A-Za-z0-9_-]/g, "_");
    for await (const info of jsm.streams.list()) {
      const name = info.config.name;
      if (name.startsWith(`KV_${bucketPrefix}_`)) {
        const kv = await new Kvm(raw).open(name.slice(3));
        const bucket = name.slice(3 + bucketPrefix.length + 1);
        for (const key of keysFor(bucket)) {
          const kind = Object.keys(GARBAGE).find((candidate) => key.endsWith(candidate)) ?? "shape";
          await kv.put(key, key.startsWith("fuzz-") ? GARBAGE[kind]! : GARBAGE.shape!);
        }
        fuzzed.push(`kv:${bucket}`);
      } else if (name.startsWith(`OBJ_${bucketPrefix}_`)) {
        const store = await new Objm(raw).open(name.slice(4));
        for (const [kind, bytes] of Object.entries(GARBAGE))
          await store.putBlob({ name: `fuzz-${kind}` }, bytes);
        fuzzed.push(`obj:${name.slice(4)}`);
      } else if (name.startsWith(streamPrefix)) {
        for (const subject of info.config.subjects ?? []) {
          const concrete = subject.replace(/\.>$/, ".fuzz").replace(/\*/g, "fuzz");
          for (const bytes of Object.values(GARBAGE)) await js.publish(concrete, bytes);
        }
        fuzzed.push(`stream:${name}`);
      }
    }
    // Every store the stack uses was reached.
    expect(fuzzed).toEqual(
      expect.arrayContaining(["kv:tasks", "kv:registry", "stream:" + `${streamPrefix}_TASK_EVENTS`]),
    );
    expect(fuzzed.filter((item) => item.startsWith("stream:")).length).toBeGreaterThanOrEqual(4);

    // Garbage as requests on every endpoint every service announces: each contract endpoint
    // answers with a typed client error (400), never a server fault, a hang or a crash. The
    // `status.<service>` discovery endpoints read nothing from a request and answer their status.
    const endpoints: string[] = [];
    const infos = await new Svcm(raw).client({ strategy: "stall", maxWait: 2_000 }).info();
    for await (const info of infos) {
      if (info.metadata?.prefix !== stack.prefix) continue;
      for (const endpoint of info.endpoints ?? []) endpoints.push(endpoint.subject);
    }
    const unique = [...new Set(endpoints)];
    expect(
      unique.filter((subject) => !subject.startsWith(`${stack.prefix}.status.`)).length,
    ).toBeGreaterThanOrEqual(10);
    const answers = new Map<string, number>();
    const wrong: string[] = [];
    for (const subject of unique) {
      const discovery = subject.startsWith(`${stack.prefix}.status.`);
      for (const [kind, bytes] of Object.entries(GARBAGE)) {
        const reply = await raw.request(subject, bytes, { timeout: 15_000 });
        const status = reply.headers?.get(ServiceErrorCodeHeader) || "200";
        answers.set(status, (answers.get(status) ?? 0) + 1);
        const expected = discovery ? "200" : "400";
        if (status !== expected) wrong.push(`${subject} answered ${kind} garbage with ${status}`);
        if (discovery) expect(JSON.parse(new TextDecoder().decode(reply.data))).toHaveProperty("service");
      }
    }
    expect(wrong).toEqual([]);
    // Nothing crashed on the way.
    expect(
      [...stack.services.values()].filter((service) => !service.running).map((service) => service.name),
    ).toEqual([]);

    const services = [...stack.services.keys()];
    await Promise.all(services.map((service) => stack.kill(service, "SIGKILL")));
    await Promise.all(services.map((service) => stack.restart(service)));

    const list = await fetch(`${stack.url("gateway")}/v1/tasks`);
    expect(list.status).toBe(200);
    const after = await submitTask(bus, "Count the vowels in 'onomatopoeia'.", { label: "after" });
    const record = await after.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("8");

    const quarantine = await openQuarantine({ url: stack.natsUrl, prefix: stack.prefix });
    const entries = await quarantine.list();
    await quarantine.close();
    const buckets = new Set(entries.map((entry) => entry.bucket));
    const byBucket = new Map<string, number>();
    for (const entry of entries) byBucket.set(entry.bucket, (byBucket.get(entry.bucket) ?? 0) + 1);
    console.log(
      `poison data: ${fuzzed.length} stores fuzzed; ${entries.length} bad entries quarantined (${[...byBucket]
        .map(([bucket, count]) => `${bucket} ${count}`)
        .join(
          ", ",
        )}); ${unique.length} endpoints × ${Object.keys(GARBAGE).length} garbage requests answered ${[
        ...answers,
      ]
        .map(([status, count]) => `${status} ×${count}`)
        .join(", ")}; a task finished after every service restarted`,
    );
    expect([...buckets]).toEqual(expect.arrayContaining(["tasks", "registry"]));
    // Counted where they were met (the processes before the restart, mostly); the counter is
    // exported by every service.
    const registryMetrics = await (await fetch(`${stack.url("registry")}/metrics`)).text();
    expect(registryMetrics).toContain("# TYPE insitu_bad_entries_total counter");
  });
});
