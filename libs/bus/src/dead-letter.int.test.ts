import { natsConnectOptions } from "./auth.js";
import { randomBytes } from "node:crypto";
import { InsituError } from "@insitu/errors";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testQueue } from "./fixtures/queue.js";
import {
  type Bus,
  connectBus,
  DEAD_LETTER_LIMITS,
  Naming,
  type NatsServerHandle,
  openDeadLetterAdmin,
  startNatsServer,
} from "./index.js";

// Runs against the nats-server the project installs (2.9.10 from Debian here): 2.9 ignores
// `+TERM <reason>`, so these tests go red if the bus ever sends the reason in the TERM again.
let server: NatsServerHandle;
const buses: Bus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await server.dispose();
});

async function bus(prefix: string): Promise<Bus> {
  const connected = await connectBus({ url: server.url, prefix, name: "dlq-test" });
  buses.push(connected);
  return connected;
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("poison work on the installed nats-server", () => {
  it("leaves the queue at once: one dead letter with the reason, never redelivered, no slot held", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const client = await bus(prefix);
    const attempts: number[] = [];
    const done: number[] = [];
    await client.consume(
      testQueue,
      async (data) => {
        if (data.fail) {
          attempts.push(data.n);
          throw new InsituError("this input can never work", { code: "BAD_INPUT", category: "user" });
        }
        done.push(data.n);
      },
      { ackWaitMs: 300, maxDeliver: 5, backoffMs: [50] },
    );
    // Garbage straight onto the queue's subject too, bypassing the typed API.
    const raw = await connect(natsConnectOptions(server.url));
    await jetstream(raw).publish(`${prefix}.bus-test.work`, new Uint8Array([0xff, 0xfe, 0x00]));
    for (let n = 0; n < 5; n++) await client.enqueue(testQueue, { n, fail: true });
    await until(async () => ((await client.deadLetters(testQueue)).length >= 6 ? true : undefined));
    // Several ack-wait periods: an item that was only half-removed would be redelivered by now.
    await sleep(2_000);
    expect(attempts.sort()).toEqual([0, 1, 2, 3, 4]);
    const letters = await client.deadLetters(testQueue);
    expect(letters).toHaveLength(6);
    expect(letters.filter((letter) => letter.reason === "this input can never work")).toHaveLength(5);
    expect(letters.some((letter) => /UTF-8/.test(letter.reason))).toBe(true);
    const jsm = await jetstreamManager(raw);
    const naming = new Naming(prefix);
    const consumer = await jsm.consumers.info(
      naming.stream(testQueue.stream),
      naming.stream(testQueue.stream),
    );
    expect(consumer.num_ack_pending).toBe(0);
    expect((await jsm.streams.info(naming.stream(testQueue.stream))).state.messages).toBe(0);
    // The queue is not jammed: a good item goes straight through.
    await client.enqueue(testQueue, { n: 99 });
    await until(() => (done.includes(99) ? true : undefined), 3_000);
    await raw.close();
  });

  it("bounds the dead-letter stream, and bounds one an older release left unbounded", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const naming = new Naming(prefix);
    const raw = await connect(natsConnectOptions(server.url));
    const jsm = await jetstreamManager(raw);
    await jsm.streams.add({
      name: naming.deadLetterStream(),
      subjects: [naming.deadLetterSubject(">")],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    });
    const client = await bus(prefix);
    await client.consume(testQueue, async () => {
      throw new InsituError("no", { code: "BAD_INPUT", category: "user" });
    });
    await client.enqueue(testQueue, { n: 1 });
    await until(async () => ((await client.deadLetters(testQueue)).length ? true : undefined));
    const config = (await jsm.streams.info(naming.deadLetterStream())).config;
    expect(config.max_msgs).toBe(DEAD_LETTER_LIMITS.max_msgs);
    expect(config.max_bytes).toBe(DEAD_LETTER_LIMITS.max_bytes);
    await raw.close();
  });
});

describe("dead-letter admin (insitu dlq)", () => {
  it("lists, shows, retries and purges letters, and lists garbage in the stream as unreadable", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const client = await bus(prefix);
    const seen: number[] = [];
    let failing = true;
    await client.consume(
      testQueue,
      async (data) => {
        if (failing) throw new InsituError("not yet", { code: "BAD_INPUT", category: "user" });
        seen.push(data.n);
      },
      { ackWaitMs: 1000 },
    );
    await client.enqueue(testQueue, { n: 1 });
    await client.enqueue(testQueue, { n: 2 });
    await until(async () => ((await client.deadLetters(testQueue)).length === 2 ? true : undefined));
    const raw = await connect(natsConnectOptions(server.url));
    await jetstream(raw).publish(new Naming(prefix).deadLetterSubject("bus-test.work"), "{not json");
    const admin = await openDeadLetterAdmin({ url: server.url, prefix });
    try {
      const letters = await admin.list();
      expect(letters).toHaveLength(3);
      expect(letters[0]).toMatchObject({ subject: "bus-test.work", reason: "not yet", code: "BAD_INPUT" });
      expect(letters[2]?.unreadable).toBeTruthy();
      const shown = await admin.show(letters[0]!.seq);
      expect((shown.data as { data: unknown }).data).toEqual({ n: 1 });
      failing = false;
      await admin.retry(letters[0]!.seq);
      await until(() => (seen.includes(1) ? true : undefined));
      expect((await admin.list()).map((letter) => letter.seq)).toEqual([letters[1]!.seq, letters[2]!.seq]);
      await expect(admin.retry(letters[2]!.seq)).rejects.toMatchObject({ code: "INVALID_MESSAGE" });
      await expect(admin.show(999_999)).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await admin.purge({ subject: "bus-test.work" })).toBe(2);
      expect(await admin.list()).toEqual([]);
      expect(seen).toEqual([1]);
    } finally {
      await admin.close();
      await raw.close();
    }
  });
});
