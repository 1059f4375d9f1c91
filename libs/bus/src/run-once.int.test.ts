import { randomBytes } from "node:crypto";
import { connectBus } from "./nats-bus.js";
import { type NatsServerHandle, startNatsServer } from "./nats-server.js";
import type { Bus } from "./types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallOnce, kvCallClaims, objectOutcomeStore } from "./run-once.js";

/**
 * Keyed calls across replicas (docs/adr/0094), on a real nats-server: two CallOnce instances
 * stand for two sandbox replicas; they share only the Object Store of outcomes and the KV
 * bucket of claims, as two sandbox processes do.
 */
let server: NatsServerHandle;
let bus: Bus;

beforeAll(async () => {
  server = await startNatsServer();
  bus = await connectBus({
    url: server.url,
    prefix: `co${randomBytes(3).toString("hex")}`,
    name: "call-once-test",
  });
});
afterAll(async () => {
  await bus?.drain();
  await server?.dispose();
});

/** Stands for a tool outcome: the runner does not look inside what it records. */
interface Outcome {
  status: "ok";
  output: unknown;
  durationMs: number;
}
const ok = (output: unknown): Outcome => ({ status: "ok", output, durationMs: 5 });

async function replica(name: string, timing: { staleMs?: number; beatMs?: number } = {}) {
  const store = objectOutcomeStore(await bus.objects("call-once-results"), (value) => ({
    value: value as Outcome,
  }));
  const claims = kvCallClaims(await bus.kv("call-once-claims"), name, { beatMs: timing.beatMs ?? 200 });
  return new CallOnce<Outcome>(store, { claims, staleMs: timing.staleMs ?? 1_500, pollMs: 50 });
}

describe("a keyed call across replicas", () => {
  it("a repeat on another replica while the first still runs waits for its outcome; the tool runs once", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    let sideEffects = 0;
    let finish: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const call = async () => {
      const count = ++sideEffects;
      await gate;
      return ok({ count });
    };
    const first = a.run("task.r1.0.abc", call);
    // Replica a holds the claim once the call has started.
    while (sideEffects === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const second = b.run("task.r1.0.abc", call);
    // Longer than the stale window: a's claim is renewed all along, so b keeps waiting.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(sideEffects).toBe(1);
    finish();
    expect(await first).toEqual(ok({ count: 1 }));
    expect(await second).toEqual(ok({ count: 1 }));
    expect(sideEffects).toBe(1);
  }, 30_000);

  it("a claim its replica stopped renewing (the replica died) is taken over, and the call runs once more", async () => {
    const claims = kvCallClaims(await bus.kv("call-once-claims"), "dead", { beatMs: 60_000 });
    // A replica that claimed the key and was killed before renewing or recording anything.
    const held = await claims.acquire("task.r1.1.def");
    expect("heldAt" in held).toBe(false);
    const b = await replica("b");
    let runs = 0;
    const started = Date.now();
    const outcome = await b.run("task.r1.1.def", async () => ok({ run: ++runs }));
    expect(outcome).toEqual(ok({ run: 1 }));
    expect(runs).toBe(1);
    // Not before the claim went stale (1.5 s without a new revision).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    // And recorded: a third replica answers from the record.
    expect(await (await replica("c")).run("task.r1.1.def", async () => ok({ run: ++runs }))).toEqual(
      ok({ run: 1 }),
    );
    expect(runs).toBe(1);
  }, 30_000);
});
