import { randomBytes } from "node:crypto";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsConnectOptions } from "./auth.js";
import { testQueue } from "./fixtures/queue.js";
import { type Bus, connectBus, Naming, type NatsServerHandle, startNatsServer } from "./index.js";

/**
 * Messages sent by reference (docs/adr/0177): every role may write the shared payload store, so the
 * sender puts the body's sha-256 in the reference and the reader refuses a body that does not match.
 * Here another client rewrites a queued item's body in the store before it is consumed.
 */
let server: NatsServerHandle;
const buses: Bus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await server.dispose();
});

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("payloads by reference", () => {
  it("a body replaced in the payload store is refused with PAYLOAD_DIGEST_MISMATCH, never handled", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    // Every message goes by reference.
    const client = await connectBus({ url: server.url, prefix, name: "payload-test", inlineLimitBytes: 8 });
    buses.push(client);
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
