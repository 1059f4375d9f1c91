import { natsConnectOptions } from "./auth.js";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { defineEndpoint, Ping } from "@insitu/contracts";
import { InsituError, isInsituError } from "@insitu/errors";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { testQueue } from "./fixtures/queue.js";
import { type Bus, connectBus, endpoint, Naming, type NatsServerHandle, startNatsServer } from "./index.js";

let server: NatsServerHandle;
const children: ChildProcess[] = [];
const buses: Bus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await server.dispose();
});

function uniquePrefix(): string {
  return `t${randomBytes(4).toString("hex")}`;
}

async function bus(
  prefix: string,
  name = "test",
  extra: Partial<Parameters<typeof connectBus>[0]> = {},
): Promise<Bus> {
  const connected = await connectBus({ url: server.url, prefix, name, ...extra });
  buses.push(connected);
  return connected;
}

async function peer(mode: "serve" | "hang", prefix: string, name: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL("./fixtures/peer.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, mode, name], {
    env: { ...process.env, NATS_URL: server.url, NATS_PREFIX: prefix },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on("line", (line) => line === "ready" && resolve());
    child.once("exit", (code) => reject(new Error(`peer exited early with ${code}`)));
  });
  return child;
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("request/reply", () => {
  it("round-trips between two processes and balances a queue group across replicas", async () => {
    const prefix = uniquePrefix();
    await peer("serve", prefix, "replica-a");
    await peer("serve", prefix, "replica-b");
    const client = await bus(prefix);
    const seen = new Map<string, number>();
    for (let index = 0; index < 40; index++) {
      const reply = await client.request(Ping, { text: `hello ${index}` });
      expect(reply.text).toBe(`hello ${index}`);
      seen.set(reply.service, (seen.get(reply.service) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(["replica-a", "replica-b"]);
    for (const count of seen.values()) expect(count).toBeGreaterThan(5);
  });

  it("rebuilds a handler's typed error on the caller's side", async () => {
    const prefix = uniquePrefix();
    const server = await bus(prefix, "server");
    await server.serve({
      name: "system",
      version: "0.1.0",
      description: "fails on purpose",
      endpoints: [
        {
          contract: Ping,
          handle: async () => {
            throw new InsituError("quota is gone", {
              code: "QUOTA_EXHAUSTED",
              category: "third-party",
              retryable: true,
              details: { remaining: 0 },
            });
          },
        },
      ],
    });
    const error = await (await bus(prefix)).request(Ping, { text: "x" }).catch((caught: unknown) => caught);
    expect(isInsituError(error, "QUOTA_EXHAUSTED")).toBe(true);
    expect((error as InsituError).category).toBe("third-party");
    expect((error as InsituError).retryable).toBe(true);
    expect((error as InsituError).details).toEqual({ remaining: 0 });
  });

  it("answers UNAVAILABLE when nobody serves the subject", async () => {
    const error = await (await bus(uniquePrefix()))
      .request(Ping, { text: "x" }, { timeoutMs: 2000 })
      .catch((e: unknown) => e);
    expect(isInsituError(error, "UNAVAILABLE")).toBe(true);
  });

  it("refuses malformed, oversized, too-deep and wrong-version requests with typed errors and keeps serving", async () => {
    const prefix = uniquePrefix();
    const handled: string[] = [];
    const serving = await bus(prefix, "server", { limits: { maxBytes: 64 * 1024, maxDepth: 32 } });
    await serving.serve({
      name: "system",
      version: "0.1.0",
      description: "validating",
      endpoints: [
        endpoint(Ping, async (data) => {
          handled.push(data.text);
          return { text: data.text, service: "s" };
        }),
      ],
    });
    const raw = await connect(natsConnectOptions(server.url));
    const subject = `${prefix}.system.ping`;
    const ask = async (body: string | Uint8Array): Promise<InsituError> => {
      const reply = await raw.request(subject, body, { timeout: 5000 });
      expect(reply.headers?.get("Nats-Service-Error")).toBeTruthy();
      return InsituError.fromJSON(reply.json());
    };
    const envelope = (data: unknown, version = 1) =>
      JSON.stringify({
        id: "m1",
        type: "system.ping.request",
        version,
        time: new Date().toISOString(),
        data,
      });

    expect((await ask("{not json")).code).toBe("MALFORMED_JSON");
    expect((await ask(new Uint8Array([0xff, 0xfe, 0x00]))).code).toBe("MALFORMED_JSON");
    expect((await ask(envelope({ text: "x".repeat(70 * 1024) }))).code).toBe("MESSAGE_TOO_LARGE");
    expect((await ask(envelope({ text: "x", deep: "[".repeat(40) }))).code).toBe("INVALID_MESSAGE");
    expect((await ask(`{"a":${"[".repeat(40)}${"]".repeat(40)}}`)).code).toBe("MESSAGE_TOO_DEEP");
    expect((await ask(envelope({ text: "x" }, 2))).code).toBe("UNSUPPORTED_VERSION");
    expect((await ask(envelope({ text: 42 }))).code).toBe("INVALID_MESSAGE");
    expect((await ask(envelope({ text: "x", extra: true }))).code).toBe("INVALID_MESSAGE");
    const headers = natsHeaders();
    headers.set("Insitu-Payload-Ref", "1");
    const badRef = await raw.request(subject, '{"nope":1}', { timeout: 5000, headers });
    expect(InsituError.fromJSON(badRef.json()).code).toBe("INVALID_MESSAGE");
    expect(handled).toEqual([]);
    // …and it still serves a good request.
    expect((await (await bus(prefix)).request(Ping, { text: "still here" })).text).toBe("still here");
    await raw.close();
  });

  it("sends a payload far above max_payload by reference through the Object Store", async () => {
    const prefix = uniquePrefix();
    const Echo = defineEndpoint({
      service: "echo",
      name: "echo",
      subject: `bus-test.echo-${prefix}`,
      version: 1,
      description: "echo a big blob",
      request: z.object({ blob: z.string() }).strict(),
      response: z.object({ length: z.number(), blob: z.string() }).strict(),
    });
    const serving = await bus(prefix, "server");
    await serving.serve({
      name: "echo",
      version: "0.1.0",
      description: "echo",
      endpoints: [endpoint(Echo, async (data) => ({ length: data.blob.length, blob: data.blob }))],
    });
    const blob = randomBytes(1_500_000).toString("base64"); // ≈2 MB, twice the server's max_payload
    const reply = await (await bus(prefix)).request(Echo, { blob }, { timeoutMs: 20_000 });
    expect(reply.length).toBe(blob.length);
    expect(reply.blob === blob).toBe(true);
  });
});

describe("work queues", () => {
  it("redelivers a message whose consumer died without acking", async () => {
    const prefix = uniquePrefix();
    const producer = await bus(prefix);
    const child = await peer("hang", prefix, "doomed");
    const working = new Promise<void>((resolve) =>
      createInterface({ input: child.stdout! }).on("line", (line) => line === "working" && resolve()),
    );
    await producer.enqueue(testQueue, { n: 7 });
    await working;
    child.kill("SIGKILL");
    const received: Array<{ n: number; deliveries: number }> = [];
    const survivor = await bus(prefix, "survivor");
    await survivor.consume(
      testQueue,
      async (data, context) => {
        received.push({ n: data.n, deliveries: context.deliveryCount });
      },
      { ackWaitMs: 1000, maxDeliver: 3 },
    );
    const first = await until(() => received[0]);
    expect(first.n).toBe(7);
    expect(first.deliveries).toBeGreaterThanOrEqual(2);
  });

  it("retries with backoff and dead-letters with the reason after the delivery limit", async () => {
    const prefix = uniquePrefix();
    const client = await bus(prefix);
    const attempts: number[] = [];
    await client.consume(
      testQueue,
      async (data, context) => {
        attempts.push(context.deliveryCount);
        if (data.fail)
          throw new InsituError("upstream keeps failing", { code: "UPSTREAM_DOWN", retryable: true });
      },
      { maxDeliver: 3, backoffMs: [50, 100], ackWaitMs: 2000 },
    );
    await client.enqueue(testQueue, { n: 1, fail: true });
    const letters = await until(async () => {
      const found = await client.deadLetters(testQueue);
      return found.length > 0 ? found : undefined;
    });
    expect(attempts).toEqual([1, 2, 3]);
    expect(letters[0]?.reason).toBe("upstream keeps failing");
    expect(letters[0]?.deliveries).toBe(3);
    expect((letters[0]!.data as { data: unknown }).data).toEqual({ n: 1, fail: true });
  });

  it("dead-letters a poison message at once, and the consumer keeps working", async () => {
    const prefix = uniquePrefix();
    const client = await bus(prefix);
    const done: number[] = [];
    await client.consume(testQueue, async (data) => void done.push(data.n), { ackWaitMs: 2000 });
    // Publish garbage straight onto the queue's subject, bypassing the typed API.
    const raw = await connect(natsConnectOptions(server.url));
    const { jetstream } = await import("@nats-io/jetstream");
    await jetstream(raw).publish(`${prefix}.bus-test.work`, "\u0000garbage");
    await client.enqueue(testQueue, { n: 2 });
    await until(() => (done.includes(2) ? true : undefined));
    const letters = await until(async () =>
      (await client.deadLetters(testQueue)).length ? client.deadLetters(testQueue) : undefined,
    );
    expect(letters[0]?.reason).toMatch(/JSON/);
    expect(letters[0]?.deliveries).toBe(1);
    await raw.close();
  });

  it("hands an item back when the consumer stops mid-work, even if the handler fails permanently on the abort", async () => {
    const prefix = uniquePrefix();
    const first = await bus(prefix, "stopping");
    let started: () => void = () => undefined;
    const working = new Promise<void>((resolve) => {
      started = resolve;
    });
    const consumer = await first.consume(
      testQueue,
      async (_data, context) => {
        started();
        await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve()));
        // What an LLM client or a role may make of the cancellation: a permanent-looking error.
        throw new InsituError("cancelled", { code: "LLM_ABORTED", category: "user", retryable: false });
      },
      { ackWaitMs: 30_000 },
    );
    await first.enqueue(testQueue, { n: 5 });
    await working;
    await consumer.stop();
    const second = await bus(prefix, "taking-over");
    const received: number[] = [];
    await second.consume(testQueue, async (data) => {
      received.push(data.n);
    });
    // Well within the 30 s ack deadline: handed back by a nak, not recovered by a timeout.
    await until(() => (received.includes(5) ? true : undefined), 10_000);
    expect(await second.deadLetters(testQueue)).toEqual([]);
  });

  it("drops a duplicate enqueue with the same id", async () => {
    const prefix = uniquePrefix();
    const client = await bus(prefix);
    await client.enqueue(testQueue, { n: 1 }, { id: "same" });
    await client.enqueue(testQueue, { n: 1 }, { id: "same" });
    const seen: number[] = [];
    await client.consume(testQueue, async (data) => void seen.push(data.n));
    await until(() => (seen.length ? true : undefined));
    await client.enqueue(testQueue, { n: 3 });
    await until(() => (seen.includes(3) ? true : undefined));
    expect(seen).toEqual([1, 3]);
  });
});

describe("KV and Object Store", () => {
  it("refuses a compare-and-set against a stale revision with CONFLICT", async () => {
    const kv = await (await bus(uniquePrefix())).kv("cas");
    const first = await kv.create("tool", { version: 1 });
    await expect(kv.create("tool", { version: 9 })).rejects.toMatchObject({ code: "CONFLICT" });
    const second = await kv.update("tool", { version: 2 }, first);
    await expect(kv.update("tool", { version: 3 }, first)).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await kv.get("tool")).toEqual({ key: "tool", value: { version: 2 }, revision: second });
  });

  it("notifies watchers of changes and survives a NATS restart", async () => {
    const client = await bus(uniquePrefix());
    const kv = await client.kv("durable");
    const changes: string[] = [];
    await kv.watch((key, value) => changes.push(`${key}=${JSON.stringify(value)}`));
    await kv.put("a", 1);
    await until(() => (changes.includes("a=1") ? true : undefined));
    const objects = await client.objects("blobs");
    await objects.put("x", new Uint8Array([1, 2, 3]));
    await server.restart();
    await until(async () => ((await client.health()).jetstream ? true : undefined));
    expect((await kv.get("a"))?.value).toBe(1);
    expect(await objects.get("x")).toEqual(new Uint8Array([1, 2, 3]));
  });
});

describe("events and trace context", () => {
  it("replays durable events to a late subscriber and carries the trace id across the wire", async () => {
    const { defineEvent } = await import("@insitu/contracts");
    const prefix = uniquePrefix();
    const Progress = defineEvent({
      subject: "bus-test.progress.*",
      stream: "bus_test_progress",
      type: "bus-test.progress",
      version: 1,
      description: "test events",
      schema: z.object({ step: z.number() }).strict(),
    });
    const client = await bus(prefix);
    const trace = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" };
    await client.publish(Progress, { step: 1 }, { token: "task-1", trace });
    await client.publish(Progress, { step: 2 }, { token: "task-1", trace });
    await client.publish(Progress, { step: 9 }, { token: "task-2", trace });
    const late = await bus(prefix, "late");
    const seen: Array<{ step: number; traceId: string }> = [];
    const subscription = late.subscribe(
      Progress,
      (data, context) => void seen.push({ step: data.step, traceId: context.trace.traceId }),
      {
        token: "task-1",
      },
    );
    await client.publish(Progress, { step: 3 }, { token: "task-1", trace });
    await until(() => (seen.length >= 3 ? true : undefined));
    subscription.unsubscribe();
    expect(seen.map((event) => event.step)).toEqual([1, 2, 3]);
    expect(new Set(seen.map((event) => event.traceId))).toEqual(new Set([trace.traceId]));
  });
});

/**
 * Messages sent by reference (docs/adr/0177): every role may write the shared payload store, so the
 * sender puts the body's sha-256 in the reference and the reader refuses a body that does not match.
 * Here another client rewrites a queued item's body in the store before it is consumed.
 */
describe("payloads by reference", () => {
  it("a body replaced in the payload store is refused with PAYLOAD_DIGEST_MISMATCH, never handled", async () => {
    const prefix = uniquePrefix();
    // Every message goes by reference.
    const client = await bus(prefix, "payload-test", { inlineLimitBytes: 8 });
    await client.enqueue(testQueue, { n: 1 });
    await client.enqueue(testQueue, { n: 2 });

    const raw = await connect(natsConnectOptions(server.url));
    try {
      const store = await new Objm(raw).open(new Naming(prefix).bucket("payloads"));
      const names = (await store.list()).map((entry) => entry.name);
      expect(names).toHaveLength(2);
      // Rewrite the body of item 1 only: same name, same size, n 1 → 7.
      for (const name of names) {
        const body = new TextDecoder().decode((await store.getBlob(name)) ?? new Uint8Array());
        if (body.includes('"n":1'))
          await store.putBlob({ name }, new TextEncoder().encode(body.replace('"n":1', '"n":7')));
      }
    } finally {
      await raw.close();
    }

    const handled: number[] = [];
    await client.consume(
      testQueue,
      async (data) => {
        handled.push(data.n);
      },
      { ackWaitMs: 300, maxDeliver: 2, backoffMs: [50] },
    );
    const letters = await until(async () => {
      const found = await client.deadLetters(testQueue);
      return found.length >= 1 && handled.length >= 1 ? found : undefined;
    });
    expect(handled).toEqual([2]);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.reason).toMatch(/replaced in the payload store/);
  }, 30_000);
});
