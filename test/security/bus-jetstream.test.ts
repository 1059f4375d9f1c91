/**
 * JetStream API access per role (issue 11 point 3, docs/adr/0171). Against a real nats-server with
 * the stack's generated users: a role's credentials (as a compromised service would hold them)
 * cannot delete, update, list or purge streams, cannot open a bucket its grant does not name, and
 * cannot write a bucket it only reads; the bus reports each refusal as BUS_FORBIDDEN at once, not
 * as a timeout. The admin (`insitu-admin`) can do all of it.
 */
import {
  type Bus,
  type BusCredentials,
  busUsers,
  connectBus,
  generateBusCredentials,
  inboxPrefixFor,
  type NatsServerHandle,
  startNatsServer,
} from "@insitu/bus";
import { ADMIN_USER, ExecutorRunWork, ManagerWork } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const prefix = "sec-js";
const upper = prefix.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
const MANAGER_STREAM = `${upper}_MANAGER_WORK`;
const REGISTRY_KV = `KV_${prefix.replace(/[^A-Za-z0-9_-]/g, "_")}_registry`;
let credentials: BusCredentials;
let server: NatsServerHandle;
const buses: Bus[] = [];
const connections: NatsConnection[] = [];
const saved = { user: process.env.NATS_USER, password: process.env.NATS_PASSWORD };

const busAs = async (user: string): Promise<Bus> => {
  const bus = await connectBus({
    url: server.plainUrl,
    prefix,
    name: `sec-js-${user}`,
    user,
    password: credentials[user]!,
    requestTimeoutMs: 8_000,
  });
  buses.push(bus);
  return bus;
};

/** A raw connection with a role's password, and the subjects the server refused it. */
const rawAs = async (
  user: string,
): Promise<{
  nc: NatsConnection;
  jsm: JetStreamManager;
  refused: (atLeast?: number) => Promise<string[]>;
}> => {
  const nc = await connect({
    servers: server.plainUrl,
    user,
    pass: credentials[user]!,
    inboxPrefix: inboxPrefixFor(user),
  });
  connections.push(nc);
  const refused: string[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      const error = status.type === "error" ? (status.error as Error & { subject?: string }) : undefined;
      if (error?.name === "PermissionViolationError") refused.push(error.subject ?? "");
    }
  })();
  return {
    nc,
    jsm: await jetstreamManager(nc, { timeout: 1_500 }),
    /** After a PING round trip, the refusals seen (the status iterator may lag the PONG by a few ticks). */
    refused: async (atLeast = 1) => {
      await nc.flush();
      const deadline = Date.now() + 2_000;
      while (refused.length < atLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (atLeast === 0) await new Promise((r) => setTimeout(r, 100));
      return refused;
    },
  };
};

const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return InsituError.from(error).code;
  }
};

const outcome = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => "done",
    () => "refused",
  );

beforeAll(async () => {
  delete process.env.NATS_USER;
  delete process.env.NATS_PASSWORD;
  credentials = generateBusCredentials();
  server = await startNatsServer({ auth: { users: busUsers(credentials, prefix) } });
  // the stack's state: work waiting for the manager, a tool in the registry's KV
  const executor = await busAs("executor");
  await executor.enqueue(ManagerWork, { taskId: "t-js-1", kind: "execution-done", step: "r1.execute" });
  const registry = await busAs("registry");
  await (await registry.kv("registry")).put("tool.real", { name: "real" });
});

afterAll(async () => {
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await server?.dispose();
  if (saved.user !== undefined) process.env.NATS_USER = saved.user;
  if (saved.password !== undefined) process.env.NATS_PASSWORD = saved.password;
});

describe("JetStream API per role (docs/adr/0171)", () => {
  it("a role cannot delete, update or list streams, not even the queue it consumes", async () => {
    const manager = await rawAs("manager");
    expect(await outcome(manager.jsm.streams.delete(MANAGER_STREAM))).toBe("refused");
    expect(await outcome(manager.jsm.streams.update(MANAGER_STREAM, { max_msgs: 1 }))).toBe("refused");
    expect(await outcome(manager.jsm.streams.names().next())).toBe("refused");
    expect(await manager.refused(3)).toEqual(
      expect.arrayContaining([
        `$JS.API.STREAM.DELETE.${MANAGER_STREAM}`,
        `$JS.API.STREAM.UPDATE.${MANAGER_STREAM}`,
        "$JS.API.STREAM.NAMES",
      ]),
    );
    const admin = await rawAs(ADMIN_USER);
    const info = await admin.jsm.streams.info(MANAGER_STREAM);
    expect(info.config.max_msgs).toBe(-1);
    expect(info.state.messages).toBe(1);
  });

  it("a role cannot purge a work queue, neither one it feeds nor one it consumes", async () => {
    for (const user of ["executor", "manager"]) {
      const role = await rawAs(user);
      expect(await outcome(role.jsm.streams.purge(MANAGER_STREAM)), user).toBe("refused");
      expect(await role.refused(), user).toContain(`$JS.API.STREAM.PURGE.${MANAGER_STREAM}`);
    }
    const admin = await rawAs(ADMIN_USER);
    expect((await admin.jsm.streams.info(MANAGER_STREAM)).state.messages).toBe(1);
  });

  it("a role cannot open a bucket or a queue its grant does not name: BUS_FORBIDDEN at once", async () => {
    const executor = await busAs("executor");
    const started = Date.now();
    // the registry's documents are the registry's (the evolver reads them); the executor never does
    expect(await codeOf(executor.kv("registry"))).toBe("BUS_FORBIDDEN");
    // the sandbox consumes no work queue
    const sandbox = await busAs("sandbox");
    expect(await codeOf(sandbox.consume(ExecutorRunWork, async () => undefined))).toBe("BUS_FORBIDDEN");
    expect(Date.now() - started).toBeLessThan(4_000);
    // nor by hand, through a direct get of the bucket's stream
    const raw = await rawAs("executor");
    expect(await outcome(raw.jsm.direct.getMessage(REGISTRY_KV, { last_by_subj: "$KV.x" }))).toBe("refused");
    expect(await raw.refused()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\$JS\.API\.DIRECT\.GET\./)]),
    );
  });

  it("a role that only reads a bucket reads it and cannot write it", async () => {
    const evolver = await busAs("evolver");
    const registry = await evolver.kv("registry");
    expect((await registry.get("tool.real"))?.value).toEqual({ name: "real" });
    expect(await registry.keys()).toEqual(["tool.real"]);
    expect(await codeOf(registry.put("tool.forged", { forged: true }))).toBe("BUS_FORBIDDEN");
    expect(await codeOf(registry.delete("tool.real"))).toBe("BUS_FORBIDDEN");
    const raw = await rawAs("evolver");
    expect(await outcome(raw.jsm.streams.purge(REGISTRY_KV))).toBe("refused");
    expect((await registry.get("tool.real"))?.value).toEqual({ name: "real" });
  });

  it("the admin updates, lists, purges and deletes", async () => {
    const admin = await rawAs(ADMIN_USER);
    await admin.jsm.streams.update(MANAGER_STREAM, { max_msgs: 1000 });
    const names: string[] = [];
    for await (const name of admin.jsm.streams.names()) names.push(name);
    expect(names).toEqual(expect.arrayContaining([MANAGER_STREAM, REGISTRY_KV]));
    expect((await admin.jsm.streams.purge(MANAGER_STREAM)).purged).toBe(1);
    expect(await admin.jsm.streams.delete(MANAGER_STREAM)).toBe(true);
    expect(await admin.refused(0)).toEqual([]);
  });
});

describe("replies through allow_responses (docs/adr/0172)", () => {
  it("a responder answers a request it received, more than once, and cannot publish to any other inbox", async () => {
    const registry = await rawAs("registry");
    const gateway = await rawAs("gateway");
    const served = registry.nc.subscribe(`${prefix}.registry.snapshots`, {
      callback: (_error, message) => {
        message.respond("one");
        message.respond("two");
        // an inbox it was not asked on: another role's, and the requester's own but another reply
        registry.nc.publish(`${inboxPrefixFor("executor")}.stolen`, "forged");
        registry.nc.publish(`${inboxPrefixFor("gateway")}.other`, "forged");
      },
    });
    await registry.nc.flush();
    const reply = `${inboxPrefixFor("gateway")}.reply-1`;
    const other = gateway.nc.subscribe(`${inboxPrefixFor("gateway")}.other`);
    const replies = gateway.nc.subscribe(reply, { max: 2 });
    await gateway.nc.flush();
    gateway.nc.publish(`${prefix}.registry.snapshots`, "{}", { reply });
    const received: string[] = [];
    const collected = (async () => {
      for await (const message of replies) received.push(message.string());
    })();
    await Promise.race([collected, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    expect(received).toEqual(["one", "two"]);
    expect(await registry.refused(2)).toEqual(
      expect.arrayContaining([`${inboxPrefixFor("executor")}.stolen`, `${inboxPrefixFor("gateway")}.other`]),
    );
    expect(other.getProcessed()).toBe(0);
    served.unsubscribe();
    other.unsubscribe();
  });
});
