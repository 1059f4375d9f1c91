import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testQueue } from "./fixtures/queue.js";
import { type Bus, connectBus, freePort, jetStreamReplicas } from "./index.js";

/**
 * NATS_JS_REPLICAS on a real 3-node JetStream cluster (three local nats-servers routed to each
 * other, as the StatefulSet in infra/k8s runs them): what the services create is R3.
 */
const servers: ChildProcess[] = [];
const dirs: string[] = [];
let clientPorts: number[] = [];
let bus: Bus | undefined;

beforeAll(async () => {
  clientPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(",");
  for (const [index, port] of clientPorts.entries()) {
    const dir = await mkdtemp(join(tmpdir(), "insitu-nats-cluster-"));
    dirs.push(dir);
    servers.push(
      spawn(
        process.env.NATS_SERVER_BIN ?? "nats-server",
        [
          "-a",
          "127.0.0.1",
          "-p",
          String(port),
          "-js",
          "-sd",
          dir,
          "--server_name",
          `n${index}`,
          "--cluster_name",
          "insitu",
          "--cluster",
          `nats://127.0.0.1:${routePorts[index]}`,
          "--routes",
          routes,
        ],
        { stdio: "ignore" },
      ),
    );
  }
  // Wait for the JetStream meta leader: until then stream creation fails.
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const nc = await connect({ servers: `127.0.0.1:${clientPorts[0]}`, timeout: 1000 });
      const info = await (await jetstreamManager(nc)).getAccountInfo();
      await nc.close();
      if (info) break;
    } catch {
      if (Date.now() > deadline) throw new Error("the 3-node cluster did not form");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
});

afterAll(async () => {
  await bus?.drain();
  for (const server of servers) server.kill("SIGKILL");
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("JetStream replicas", () => {
  it("creates streams, KV buckets and object stores at NATS_JS_REPLICAS=3 on a cluster", async () => {
    bus = await connectBus({
      url: clientPorts.map((port) => `nats://127.0.0.1:${port}`).join(","),
      name: "replicas-test",
      prefix: "rt",
      replicas: jetStreamReplicas({ NATS_JS_REPLICAS: "3" }),
    });
    // The meta leader answers before every peer is known: an R3 stream can be refused for a
    // moment after the cluster forms, so the first create is retried (the bus retries it too).
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await bus.enqueue(testQueue, { n: 1 } as never);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    await bus.kv("state");
    await bus.objects("blobs");
    const nc = await connect({ servers: `127.0.0.1:${clientPorts[1]}` });
    try {
      const jsm = await jetstreamManager(nc);
      for (const name of ["RT_BUS_TEST_WORK", "KV_rt_state", "OBJ_rt_blobs"]) {
        const info = await jsm.streams.info(name);
        expect(info.config.num_replicas, name).toBe(3);
        expect(info.cluster?.replicas?.length, name).toBe(2);
      }
    } finally {
      await nc.close();
    }
  });

  it("defaults to 1 and refuses a bad NATS_JS_REPLICAS with a typed error", () => {
    expect(jetStreamReplicas({})).toBe(1);
    expect(jetStreamReplicas({ NATS_JS_REPLICAS: "3" })).toBe(3);
    for (const bad of ["0", "6", "two", "1.5"]) {
      expect(() => jetStreamReplicas({ NATS_JS_REPLICAS: bad }), bad).toThrow(
        expect.objectContaining({ code: "INVALID_CONFIG" }),
      );
    }
  });
});
