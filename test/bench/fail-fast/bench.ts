/**
 * Dead peer → failure (issue 16 point 4; docs/adr/0093). A responder in another process takes a
 * long request (timeout 180 s, the tool developer's sandbox timeout) and is killed with SIGKILL
 * while handling it; measured: the time from the kill to the request's failure, with liveness
 * beats (the default) and without them (`livenessWindowMs: 0`, as before — shown at a 15 s timeout
 * so the bench does not wait three minutes). Also: a request nobody serves.
 *
 *   node --import tsx test/bench/fail-fast/bench.ts        # or: npm run bench -- fail-fast
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connectBus, endpoint, startNatsServer } from "@insitu/bus";
import { defineEndpoint } from "@insitu/contracts";
import { z } from "zod";
import { exitOnMiss, target } from "../targets.js";

const Hang = defineEndpoint({
  service: "bench-peer",
  name: "hang",
  subject: "bench.hang",
  version: 1,
  description: "Never answers in time (fail-fast bench).",
  request: z.object({}).strict(),
  response: z.object({}).strict(),
});
const SANDBOX_TIMEOUT_MS = 180_000;
const ROUNDS = 3;

if (process.argv[2] === "responder") {
  const bus = await connectBus({
    url: process.env.NATS_URL!,
    prefix: process.env.NATS_PREFIX!,
    name: "bench-peer",
  });
  await bus.serve({
    name: "bench-peer",
    version: "0.1.0",
    description: "hangs",
    endpoints: [
      endpoint(Hang, async () => {
        process.stdout.write("handling\n");
        await new Promise(() => undefined);
        return {};
      }),
    ],
  });
  process.stdout.write("ready\n");
} else {
  const server = await startNatsServer();
  try {
    const prefix = `bench${process.pid}`;
    /** Seconds from SIGKILL of a responder mid-request to the request's failure, and the code. */
    const deadPeer = async (livenessWindowMs: number | undefined, timeoutMs: number) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", fileURLToPath(import.meta.url), "responder"],
        {
          env: { ...process.env, NATS_URL: server.url, NATS_PREFIX: prefix },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      const lines = createInterface({ input: child.stdout! });
      let handling: () => void = () => undefined;
      const handled = new Promise<void>((resolve) => {
        handling = resolve;
      });
      await new Promise<void>((resolve) =>
        lines.on("line", (line) => {
          if (line === "ready") resolve();
          if (line === "handling") handling();
        }),
      );
      const bus = await connectBus({
        url: server.url,
        prefix,
        name: "bench-client",
        ...(livenessWindowMs === undefined ? {} : { livenessWindowMs }),
      });
      const failed = bus.request(Hang, {}, { timeoutMs }).then(
        () => ({ code: "ANSWERED", at: performance.now() }),
        (error: { code?: string }) => ({ code: error.code ?? "?", at: performance.now() }),
      );
      await handled;
      const killed = performance.now();
      child.kill("SIGKILL");
      const { code, at } = await failed;
      await bus.drain();
      return { seconds: (at - killed) / 1000, code };
    };

    const withBeats: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { seconds, code } = await deadPeer(undefined, SANDBOX_TIMEOUT_MS);
      console.log(`with beats, round ${round + 1}: failed ${code} ${seconds.toFixed(2)} s after the kill`);
      withBeats.push(seconds);
    }
    const before = await deadPeer(0, 15_000);
    console.log(
      `without beats (timeout 15 s): failed ${before.code} ${before.seconds.toFixed(2)} s after the kill`,
    );

    const client = await connectBus({ url: server.url, prefix: `${prefix}-none`, name: "bench-client" });
    const started = performance.now();
    const none = await client.request(Hang, {}, { timeoutMs: SANDBOX_TIMEOUT_MS }).catch((error) => error);
    const noResponders = (performance.now() - started) / 1000;
    await client.drain();

    const worst = Math.max(...withBeats);
    const median = [...withBeats].sort((a, b) => a - b)[Math.floor(withBeats.length / 2)]!;
    console.log(
      `\ndead peer → failure in ${median.toFixed(1)} s (median of ${ROUNDS}, worst ${worst.toFixed(1)} s; was the full timeout: ${SANDBOX_TIMEOUT_MS / 1000} s for sandbox requests — without beats the request failed only at its timeout, ${before.seconds.toFixed(1)} s at 15 s)`,
    );
    console.log(
      `no responders → failure in ${(noResponders * 1000).toFixed(0)} ms (${(none as { code?: string }).code})`,
    );
    target("dead peer → failure, worst (s)", worst, "<", 10);
    target("no responders → failure (s)", noResponders, "<", 1);
    target("without beats the dead peer is waited on to the timeout (s)", before.seconds, ">=", 14);
  } finally {
    await server.dispose();
  }
  exitOnMiss();
}
