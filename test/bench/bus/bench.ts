/**
 * Bus overhead benchmark: request/reply latency and work-queue throughput through `@insitu/bus`
 * beside the raw @nats-io client doing the same work in the same run against the same server.
 * Target (issue 2): the wrapper costs under 10% at p50.
 *
 *   npx tsx test/bench/bus/bench.ts [--requests 5000] [--messages 5000]
 */
import { parseArgs } from "node:util";
import { defineWorkQueue, Ping } from "@insitu/contracts";
import { connectBus, natsConnectOptions, endpoint, startNatsServer } from "@insitu/bus";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";
import { exitOnMiss, target } from "../targets.js";

const { values } = parseArgs({
  options: { requests: { type: "string", default: "5000" }, messages: { type: "string", default: "5000" } },
});
const REQUESTS = Number(values.requests);
const MESSAGES = Number(values.messages);

const BenchQueue = defineWorkQueue({
  stream: "bench_work",
  subject: "bench.work",
  version: 1,
  description: "bench",
  schema: z.object({ n: z.number().int() }).strict(),
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const server = await startNatsServer();
try {
  // ---- request/reply
  const raw = await connect(natsConnectOptions(server.url));
  raw.subscribe("raw.ping", {
    callback: (_error, message) => {
      const request = message.json<{ text: string }>();
      message.respond(JSON.stringify({ text: request.text, service: "raw" }));
    },
  });
  const serving = await connectBus({ url: server.url, prefix: "bench", name: "bench-server" });
  await serving.serve({
    name: "system",
    version: "0.1.0",
    description: "bench",
    endpoints: [endpoint(Ping, async (data) => ({ text: data.text, service: "bus" }))],
  });
  const client = await connectBus({ url: server.url, prefix: "bench", name: "bench-client" });
  const rawClient = await connect(natsConnectOptions(server.url));
  // The bus connects with noAsyncTraces (see nats-bus.ts); a raw client tuned the same way is the
  // fair floor for the wrapper's own cost, the default raw client is what a plain user gets.
  const rawTuned = await connect({ ...natsConnectOptions(server.url), noAsyncTraces: true });

  console.log(
    `request/reply: ${REQUESTS} sequential requests per side after 1000 warm-up; raw and bus requests alternate one by one so load on a shared machine hits both alike`,
  );
  const sendRaw = () =>
    rawClient.request("raw.ping", JSON.stringify({ text: "hello" }), { timeout: 5000 }).then((m) => m.json());
  const sendTuned = () =>
    rawTuned.request("raw.ping", JSON.stringify({ text: "hello" }), { timeout: 5000 }).then((m) => m.json());
  const sendBus = () => client.request(Ping, { text: "hello" });
  const sides = [
    { label: "raw @nats-io (defaults)     ", send: sendRaw, samples: [] as number[] },
    { label: "raw @nats-io (noAsyncTraces)", send: sendTuned, samples: [] as number[] },
    { label: "@insitu/bus                 ", send: sendBus, samples: [] as number[] },
  ];
  for (let i = 0; i < 1000; i++) for (const side of sides) await side.send();
  for (let i = 0; i < REQUESTS; i++) {
    for (const side of sides) {
      const start = performance.now();
      await side.send();
      side.samples.push((performance.now() - start) * 1000);
    }
  }
  const p50s = sides.map((side) => {
    side.samples.sort((a, b) => a - b);
    const p50 = percentile(side.samples, 50);
    console.log(
      `  ${side.label}  p50 ${p50.toFixed(1)} µs   p99 ${percentile(side.samples, 99).toFixed(1)} µs`,
    );
    return p50;
  });
  const [rawP50, tunedP50, busP50] = p50s as [number, number, number];
  console.log(
    `  p50 ratio bus/raw-defaults ${(busP50 / rawP50).toFixed(3)} (target < 1.10); bus/raw-noAsyncTraces ${(busP50 / tunedP50).toFixed(3)} = +${(busP50 - tunedP50).toFixed(1)} µs, the wrapper's own cost (envelope, validation on both sides, services framework)`,
  );

  target("bus/raw-defaults request p50 ratio", busP50 / rawP50, "<", 1.1);

  // ---- work queue throughput: publish N (256 in flight), consume and ack all
  const jsm = await jetstreamManager(rawClient);
  await jsm.streams.add({ name: "RAW_BENCH", subjects: ["raw.work"], retention: RetentionPolicy.Workqueue });
  await jsm.consumers.add("RAW_BENCH", { durable_name: "raw", ack_policy: AckPolicy.Explicit });
  const js = jetstream(rawClient);
  const rawStart = performance.now();
  for (let i = 0; i < MESSAGES; i += 256) {
    const batch = [];
    for (let j = i; j < Math.min(i + 256, MESSAGES); j++)
      batch.push(js.publish("raw.work", JSON.stringify({ n: j })));
    await Promise.all(batch);
  }
  // Like for like with the bus: parse, then an ack the server confirms, 64 handlers in flight.
  const rawConsumer = await js.consumers.get("RAW_BENCH", "raw");
  let rawSeen = 0;
  let inFlight = 0;
  const rawMessages = await rawConsumer.consume({ max_messages: 64 });
  await new Promise<void>((resolve) => {
    void (async () => {
      for await (const message of rawMessages) {
        while (inFlight >= 64) await new Promise((r) => setImmediate(r));
        inFlight++;
        message.json();
        void message.ackAck().then(() => {
          inFlight--;
          if (++rawSeen >= MESSAGES) resolve();
        });
      }
    })();
  });
  await rawMessages.close();
  const rawRate = MESSAGES / ((performance.now() - rawStart) / 1000);

  const busStart = performance.now();
  for (let i = 0; i < MESSAGES; i += 256) {
    const batch = [];
    for (let j = i; j < Math.min(i + 256, MESSAGES); j++) batch.push(client.enqueue(BenchQueue, { n: j }));
    await Promise.all(batch);
  }
  let busSeen = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  await client.consume(
    BenchQueue,
    async () => {
      if (++busSeen >= MESSAGES) finish();
    },
    { concurrency: 64 },
  );
  await done;
  const busRate = MESSAGES / ((performance.now() - busStart) / 1000);
  console.log(`work queue, ${MESSAGES} items published (256 in flight) then consumed and acked:`);
  console.log(
    `  raw ${rawRate.toFixed(0)} items/s, bus ${busRate.toFixed(0)} items/s (both: server-confirmed acks, 64 in flight), ratio ${(busRate / rawRate).toFixed(3)}`,
  );
  await Promise.allSettled([
    client.drain(),
    serving.drain(),
    raw.close(),
    rawClient.close(),
    rawTuned.close(),
  ]);
} finally {
  await server.dispose();
}
exitOnMiss();
