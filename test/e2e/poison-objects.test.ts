import { fileURLToPath } from "node:url";
import { type Bus, Naming, connectBus, natsConnectOptions, openQuarantine } from "@insitu/bus";
import {
  RegistryAbsorb,
  RegistryErrorCode,
  RegistryGet,
  RegistryList,
  RegistryRegister,
  RegistrySnapshots,
} from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { httpStatusFor } from "@insitu/gateway";
import { registerRequest } from "@insitu/registry/testing";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withSandboxReport } from "../harness/evidence.js";
import { type Stack, startStack } from "../harness/stack.js";
import { submitTask } from "./task-client.js";

/**
 * Poison objects (docs/adr/0117): the Object Store bodies the registry reads — the body of the
 * CURRENT library snapshot, of the one before it, and of two large tool versions — are
 * overwritten by a foreign client with bad UTF-8, bad JSON and the wrong shape; then every
 * service is killed (-9) and restarted. The registry must start, serve the newest snapshot that
 * still reads, answer the broken versions with a typed 5xx error, quarantine (and count) each
 * bad object, and the stack must still finish a task. Scripted (FAKE) model; NATS, every service
 * and the Deno sandbox are real.
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/loop.json", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;
const encoder = new TextEncoder();
const BLOBS = "registry-blobs";

let stack: Stack;
let bus: Bus;
let raw: NatsConnection;

beforeAll(async () => {
  stack = await startStack({
    services: ["registry", "sandbox", "gateway", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "2000" },
    serviceEnv: Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-poison-objects" });
  raw = await connect(natsConnectOptions(stack.natsUrl));
});

afterAll(async () => {
  await raw?.close();
  await bus?.drain();
  await stack?.stop();
});

/** Registers a version in a task of its own and adds it to the library; returns hash and snapshot. */
async function addToLibrary(name: string, variant = ""): Promise<{ hash: string; snapshot: number }> {
  const registered = await bus.request(
    RegistryRegister,
    await withSandboxReport(
      bus,
      registerRequest(`poison-objects-${name}`, name, `Tool ${name} of the poison-objects test.`, {
        variant,
      }),
    ),
  );
  const expected = (await bus.request(RegistrySnapshots, { limit: 1 })).current;
  const info = await bus.request(RegistryAbsorb, {
    expectedSnapshot: expected,
    changes: [{ op: "add", hash: registered.hash }],
    reason: `poison-objects: ${name}`,
  });
  return { hash: registered.hash, snapshot: info.number };
}

/** A sample's value on the registry's /metrics (labels must include `labels`), or undefined. */
async function registryMetric(name: string, labels = ""): Promise<number | undefined> {
  const text = await (await fetch(`${stack.url("registry")}/metrics`)).text();
  const line = text
    .split("\n")
    .find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(labels));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

async function rejection(promise: Promise<unknown>): Promise<InsituError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(InsituError);
  return error as InsituError;
}

describe("corrupt snapshot and version bodies in the Object Store, then every service restarted", () => {
  it("serves the last good snapshot, answers broken versions with a typed 5xx, quarantines them and finishes a task", async () => {
    const first = await submitTask(bus, "How many vowels are in the word 'encyclopedia'?", {
      label: "before",
    });
    expect((await first.done).status).toBe("succeeded");
    const good = (await bus.request(RegistrySnapshots, { limit: 1 })).current;
    const goodTools = (await bus.request(RegistryList, { limit: 100 })).tools.map((tool) => tool.name);
    expect(goodTools).toContain("count_vowels");

    // Two more snapshots, and two versions large enough to keep their code in the Object Store.
    await addToLibrary("echo_one");
    const current = (await addToLibrary("echo_two")).snapshot;
    expect(current).toBe(good + 2);
    const big = "x".repeat(140 * 1024);
    const large = await Promise.all(
      ["big_one", "big_two"].map(async (name) => {
        const reply = await bus.request(
          RegistryRegister,
          await withSandboxReport(
            bus,
            registerRequest(`poison-objects-${name}`, name, `Large tool ${name}.`, { variant: big }),
          ),
        );
        return reply.hash;
      }),
    );

    const registry = await bus.kv("registry");
    const bodyOf = async (key: string) =>
      ((await registry.get<{ body?: string }>(key))?.value.body ?? "") as string;
    const corrupt: Record<string, Uint8Array> = {
      // the current snapshot: valid JSON of the wrong shape
      [await bodyOf("current")]: encoder.encode('{"tools":42,"changes":"none"}'),
      // the snapshot before it: not JSON
      [await bodyOf(`snapshot.${current - 1}`)]: encoder.encode('{"tools": {"echo_one": '),
      // the large versions: bad UTF-8, and JSON without code
      [await bodyOf(`version.${large[0]?.replace(/^sha256:/, "")}`)]: new Uint8Array([
        0xc3, 0x28, 0xff, 0xfe,
      ]),
      [await bodyOf(`version.${large[1]?.replace(/^sha256:/, "")}`)]: encoder.encode('{"surprise":true}'),
    };
    expect(Object.keys(corrupt).every((name) => name.length > 0)).toBe(true);
    const store = await new Objm(raw).open(new Naming(stack.prefix).bucket(BLOBS));
    for (const [name, bytes] of Object.entries(corrupt)) await store.putBlob({ name }, bytes);

    const services = [...stack.services.keys()];
    await Promise.all(services.map((service) => stack.kill(service, "SIGKILL")));
    await Promise.all(services.map((service) => stack.restart(service)));

    // The registry started, still compares-and-sets against the current number, and serves the
    // newest snapshot whose body reads — and says so on /metrics.
    expect((await bus.request(RegistrySnapshots, { limit: 1 })).current).toBe(current);
    const served = await bus.request(RegistryList, { limit: 100 });
    expect(served.tools.map((tool) => tool.name).sort()).toEqual([...goodTools].sort());
    expect(await registryMetric("insitu_library_snapshot_served_fallback")).toBe(good);
    expect((await fetch(`${stack.url("gateway")}/v1/tools`)).status).toBe(200);

    // A version whose body is broken is unavailable: a typed error, a server-side fault.
    for (const hash of large) {
      const error = await rejection(bus.request(RegistryGet, { by: "hash", hash: hash as string }));
      expect(error.code).toBe(RegistryErrorCode.versionUnavailable);
      expect(httpStatusFor(error)).toBeGreaterThanOrEqual(500);
    }

    // The stack still works: a task reuses the tool of the snapshot served.
    const after = await submitTask(bus, "Count the vowels in 'onomatopoeia'.", { label: "after" });
    const record = await after.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("8");

    // Every bad object was counted, moved to the quarantine and is listed with its reason.
    const quarantine = await openQuarantine({ url: stack.natsUrl, prefix: stack.prefix });
    const listed = (await quarantine.list({ bucket: BLOBS })).map((entry) => entry.key);
    await quarantine.close();
    expect(listed.sort()).toEqual(Object.keys(corrupt).sort());
    expect(await registryMetric("insitu_bad_entries_total", `bucket="${BLOBS}"`)).toBe(4);
    for (const name of Object.keys(corrupt)) expect((await store.info(name))?.deleted ?? true).toBe(true);

    // The next commit builds on the served tool set and heals the pointer.
    const healed = await addToLibrary("echo_three");
    expect(healed.snapshot).toBe(current + 1);
    const now = await bus.request(RegistryList, { limit: 100 });
    expect(now.tools.map((tool) => tool.name).sort()).toEqual([...goodTools, "echo_three"].sort());
    expect(await registryMetric("insitu_library_snapshot_served_fallback")).toBeUndefined();
  });
});
