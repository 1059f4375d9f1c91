/**
 * Poison work (issue 16 point 2; the bus's dead-lettering): 57 poison items — half garbage that
 * can never parse, half valid items whose handler fails for good (a user error) — are put on a
 * work queue consumed with the production defaults (real nats-server, the version installed
 * here), then one good item whose handler takes 1 s. Measured: dead letters per poison item,
 * redeliveries of poison items, and the time from enqueueing the 1-second item to its end.
 * Issue 16 measured 1,425 dead letters from 57 items and 7 min 22 s for a 1-second task.
 *
 *   node --import tsx test/bench/poison/bench.ts        # or: npm run bench -- poison
 */
import { connectBus, natsConnectOptions, startNatsServer } from "@insitu/bus";
import { defineWorkQueue } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { createLogger } from "@insitu/telemetry";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";
import { exitOnMiss, target } from "../targets.js";

const Work = defineWorkQueue({
  stream: "bench_poison_work",
  subject: "bench-poison.work",
  version: 1,
  description: "Work items of the poison bench.",
  schema: z.object({ n: z.number().int(), poison: z.boolean() }).strict(),
});
const POISON = 57;
const GARBAGE = Math.floor(POISON / 2);

const server = await startNatsServer();
const prefix = "benchpoison";
const bus = await connectBus({
  url: server.url,
  prefix,
  name: "bench-poison",
  // one warning per dead letter otherwise
  logger: createLogger({ service: "bench-poison", level: "error" }),
});
const attempts = new Map<number, number>();
let finished: number | undefined;
await bus.consume(Work, async (data) => {
  if (data.poison) {
    attempts.set(data.n, (attempts.get(data.n) ?? 0) + 1);
    throw new InsituError("this input can never work", { code: "BAD_INPUT", category: "user" });
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  finished = performance.now();
});

const raw = await connect(natsConnectOptions(server.url));
const js = jetstream(raw);
for (let index = 0; index < GARBAGE; index++)
  await js.publish(`${prefix}.bench-poison.work`, new Uint8Array([0xff, 0xfe, index]));
for (let n = GARBAGE; n < POISON; n++) await bus.enqueue(Work, { n, poison: true });
const submitted = performance.now();
await bus.enqueue(Work, { n: 1_000, poison: false });

// Given up after 2 minutes (then reported as a miss, with the figures as they stand).
const deadline = Date.now() + 120_000;
while (finished === undefined && Date.now() < deadline)
  await new Promise((resolve) => setTimeout(resolve, 20));
const seconds = ((finished ?? performance.now()) - submitted) / 1000;
// Several default ack-wait periods would show a poison item that was only half removed.
await new Promise((resolve) => setTimeout(resolve, 3_000));
const letters = await bus.deadLetters(Work);
const redeliveries = [...attempts.values()].reduce((sum, count) => sum + count - 1, 0);

console.log(`${POISON} poison items (${GARBAGE} unparseable, ${POISON - GARBAGE} failing for good)`);
console.log(`dead letters: ${letters.length} (${(letters.length / POISON).toFixed(2)} per poison item)`);
console.log(`redeliveries of poison items: ${redeliveries}`);
console.log(
  `1-second item submitted after them: ${finished === undefined ? "not done after" : "done in"} ${seconds.toFixed(2)} s`,
);
target("dead letters per poison item", letters.length / POISON, "<=", 1);
target("dead letters per poison item", letters.length / POISON, ">=", 1);
target("redeliveries of poison items", redeliveries, "<=", 0);
target("1-second item after the poison, seconds", seconds, "<", 3);

await raw.close();
await Promise.race([bus.drain(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
await server.dispose();
exitOnMiss();
