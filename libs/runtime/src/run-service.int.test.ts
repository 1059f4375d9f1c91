import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connectBus, type NatsServerHandle, startNatsServer } from "@insitu/bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slowQueue } from "./fixtures/queue.js";

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server.dispose();
});

describe("runService", () => {
  it("serves health, readiness and metrics, and on SIGTERM finishes and acks the item in flight", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const script = fileURLToPath(new URL("./fixtures/slow-worker.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, NATS_URL: server.url, NATS_PREFIX: prefix, WORK_MS: "1500" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) lines.push(line);
      for (const wake of waiters.splice(0)) wake();
    });
    const waitFor = async (predicate: (line: string) => boolean): Promise<string> => {
      for (;;) {
        const found = lines.find(predicate);
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    const httpUrl = (await waitFor((line) => line.startsWith("http "))).slice(5);
    expect((await fetch(`${httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, bus: { connected: true, jetstream: true } });
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    expect(metrics).toContain('insitu_service_ready{service="slow-worker"} 1');
    expect(metrics).toContain("insitu_process_");
    expect((await fetch(`${httpUrl}/nope`)).status).toBe(404);

    const producer = await connectBus({ url: server.url, prefix, name: "producer" });
    await producer.enqueue(slowQueue, { n: 42 });
    await waitFor((line) => line === "start 42");
    child.kill("SIGTERM");
    const exitCode = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(exitCode).toBe(0);
    expect(lines).toContain("done 42");

    // Acked, not merely abandoned: a fresh consumer gets nothing.
    const redelivered: number[] = [];
    const consumer = await producer.consume(slowQueue, async (data) => void redelivered.push(data.n));
    await producer.enqueue(slowQueue, { n: 43 });
    for (let tries = 0; tries < 400 && !redelivered.includes(43); tries++)
      await new Promise((r) => setTimeout(r, 25));
    expect(redelivered).toEqual([43]);
    await consumer.stop();
    await producer.drain();
  });

  it("shuts down by itself when the process named in INSITU_PARENT_PID dies", async () => {
    const parent = spawn("sleep", ["120"], { stdio: "ignore" });
    const script = fileURLToPath(new URL("./fixtures/slow-worker.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: {
        ...process.env,
        NATS_URL: server.url,
        NATS_PREFIX: `t${randomBytes(4).toString("hex")}`,
        INSITU_PARENT_PID: String(parent.pid),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) =>
      createInterface({ input: child.stdout! }).on("line", (line) => line.startsWith("http ") && resolve()),
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    parent.kill("SIGKILL");
    expect(await exited).toBe(0);
  });
});
