/**
 * Bus overhead benchmark: request/reply latency and work-queue throughput through `@insitu/bus`
 * beside the raw @nats-io client doing the same work in the same run against the same server.
 * Target (issue 2): the wrapper costs under 10% at p50.
 *
 *   npx tsx test/bench/bus/bench.ts [--requests 5000] [--messages 5000]
 */
import { parseArgs } from "node:util";
import { defineWorkQueue, Ping } from "@insitu/contracts";
import { connectBus, endpoint, startNatsServer } from "@insitu/bus";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";

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

async function timeRequests(label: string, send: () => Promise<unknown>) {
  for (let i = 0; i < 500; i++) await send(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now();
    await send();
    samples.push((performance.now() - start) * 1000);
  }
  samples.sort((a, b) => a - b);
  const result = { label, p50: percentile(samples, 50), p99: percentile(samples, 99) };
  console.log(
    `${label.padEnd(28)} p50 ${result.p50.toFixed(1).padStart(7)} µs   p99 ${result.p99.toFixed(1).padStart(7)} µs`,
  );
  return result;
}

const server = await startNatsServer();
try {
  // ---- request/reply
  const raw = await connect({ servers: server.url });
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
  const rawClient = await connect({ servers: server.url });

  console.log(
    `request/reply, ${REQUESTS} sequential requests each (after 500 warm-up), one nats-server on loopback`,
  );
  // Interleave rounds so drift on a shared machine hits both sides alike.
  const rawRuns = [];
  const busRuns = [];
  for (let round = 0; round < 3; round++) {
    rawRuns.push(
      await timeRequests(`raw @nats-io  (round ${round + 1})`, () =>
        rawClient
          .request("raw.ping", JSON.stringify({ text: "hello" }), { timeout: 5000 })
          .then((m) => m.json()),
      ),
    );
    busRuns.push(
      await timeRequests(`@insitu/bus   (round ${round + 1})`, () => client.request(Ping, { text: "hello" })),
    );
  }
  const median = (runs: Array<{ p50: number; p99: number }>, key: "p50" | "p99") =>
    runs.map((run) => run[key]).sort((a, b) => a - b)[1]!;
  const rawP50 = median(rawRuns, "p50");
  const busP50 = median(busRuns, "p50");
  console.log(
    `request/reply p50: raw ${rawP50.toFixed(1)} µs, bus ${busP50.toFixed(1)} µs, ratio ${(busP50 / rawP50).toFixed(3)} (target < 1.10)`,
  );
  console.log(
    `request/reply p99: raw ${median(rawRuns, "p99").toFixed(1)} µs, bus ${median(busRuns, "p99").toFixed(1)} µs`,
  );

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
  await Promise.allSettled([client.drain(), serving.drain(), raw.close(), rawClient.close()]);
} finally {
  await server.dispose();
}
