import { ManagerWork, RegistrySnapshots } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busUsers, generateBusCredentials, urlWithCredentials } from "./auth.js";
import { connectBus } from "./nats-bus.js";
import { type NatsServerHandle, startNatsServer } from "./nats-server.js";
import type { Bus } from "./types.js";
import { endpoint } from "./types.js";

// Real nats-server with the stack's users (docs/adr/0120).
const prefix = `auth-${Date.now().toString(36)}`;
const credentials = generateBusCredentials();
let server: NatsServerHandle;
const buses: Bus[] = [];

const as = async (user: string): Promise<Bus> => {
  const bus = await connectBus({
    url: server.plainUrl,
    prefix,
    name: `auth-test-${user}`,
    user,
    password: credentials[user]!,
    requestTimeoutMs: 8_000,
  });
  buses.push(bus);
  return bus;
};

const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return InsituError.from(error).code;
  }
};

beforeAll(async () => {
  delete process.env.NATS_USER;
  delete process.env.NATS_PASSWORD;
  server = await startNatsServer({ auth: { users: busUsers(credentials, prefix) } });
});

afterAll(async () => {
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await server?.dispose();
});

describe("an authenticated bus", () => {
  it("refuses a client without credentials with BUS_UNAUTHORIZED", async () => {
    const error = await connectBus({ url: server.plainUrl, prefix, name: "anonymous" }).catch((e) => e);
    expect(error).toBeInstanceOf(InsituError);
    expect(error.code).toBe("BUS_UNAUTHORIZED");
    expect(error.message).toMatch(/requires a user and password/);
  });

  it("refuses a wrong password with BUS_UNAUTHORIZED, naming the user but not the password", async () => {
    const error = await connectBus({
      url: urlWithCredentials(server.plainUrl, "executor", "not-the-password"),
      prefix,
      name: "wrong",
    }).catch((e) => e);
    expect(error.code).toBe("BUS_UNAUTHORIZED");
    expect(error.message).toContain('"executor"');
    expect(JSON.stringify(error)).not.toContain("not-the-password");
  });

  it("lets a role do its own work: the gateway asks the registry, the executor reports to the manager", async () => {
    const registry = await as("registry");
    await registry.serve({
      name: "registry",
      version: "0.0.1",
      description: "auth test",
      endpoints: [endpoint(RegistrySnapshots, async () => ({ current: 7, snapshots: [] }))],
    });
    const gateway = await as("gateway");
    await expect(gateway.request(RegistrySnapshots, { limit: 1 })).resolves.toMatchObject({ current: 7 });

    const manager = await as("manager");
    const received: string[] = [];
    const consumer = await manager.consume(ManagerWork, async (work) => {
      received.push((work as { taskId: string }).taskId);
    });
    const executor = await as("executor");
    await executor.enqueue(ManagerWork, { taskId: "t-auth-1", kind: "execution-done", step: "r1.execute" });
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    expect(received).toEqual(["t-auth-1"]);
  });

  it("refuses a role publishing what it does not own, with BUS_FORBIDDEN at once (not a timeout)", async () => {
    const registry = await as("registry");
    let handled = 0;
    await registry.serve({
      name: "registry",
      version: "0.0.1",
      description: "auth test",
      endpoints: [
        endpoint(RegistrySnapshots, async () => {
          handled++;
          return { current: 1, snapshots: [] };
        }),
      ],
    });
    const executor = await as("executor");
    const started = Date.now();
    // the executor calls the registry for tools, never for its snapshot log
    expect(await codeOf(executor.request(RegistrySnapshots, { limit: 1 }))).toBe("BUS_FORBIDDEN");
    // the sandbox runs tools; it never wakes the manager
    const sandbox = await as("sandbox");
    expect(
      await codeOf(
        sandbox.enqueue(ManagerWork, { taskId: "t-auth-2", kind: "build-done", step: "r1.build.x" }),
      ),
    ).toBe("BUS_FORBIDDEN");
    // nobody but the registry writes the registry's KV; the executor may not even open it (ADR 0171)
    expect(await codeOf(executor.kv("registry"))).toBe("BUS_FORBIDDEN");
    const evolverView = await (await as("evolver")).kv("registry");
    expect(await codeOf(evolverView.put("tool.forged", { forged: true }))).toBe("BUS_FORBIDDEN");
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(handled).toBe(0);
  });

  it("keeps a role from reading other roles' traffic: SUB > and another role's inbox are refused", async () => {
    const nc = await connect({ servers: server.plainUrl, user: "sandbox", pass: credentials.sandbox! });
    try {
      for (const subject of [">", `${prefix}.registry.register`, "_INBOX.gateway.>"]) {
        const sub = nc.subscribe(subject);
        const outcome = await Promise.race([
          (async () => {
            for await (const _ of sub) return "message";
            return "closed";
          })().catch((error: Error) => error.name),
          new Promise((resolve) => setTimeout(() => resolve("no error"), 3_000)),
        ]);
        expect(outcome, subject).toBe("PermissionViolationError");
      }
    } finally {
      await nc.close();
    }
  });
});
