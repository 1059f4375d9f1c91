import { randomBytes } from "node:crypto";
import {
  Naming,
  type NatsServerHandle,
  connectBus,
  natsConnectOptions,
  openQuarantine,
  startNatsServer,
} from "@insitu/bus";
import type { ToolOutcome } from "@insitu/tool-kit";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { objectCallResultStore } from "./call-results.js";

// The Object Store of recorded call outcomes on a real nats-server: a record that is garbage
// (written by something that is not insitu) reads as absent — the call runs again — and is
// quarantined, never a failed call.

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.dispose();
});

describe("objectCallResultStore", () => {
  it("reads good records; quarantines records that are not UTF-8 JSON or not tool outcomes", async () => {
    const prefix = `cr${randomBytes(3).toString("hex")}`;
    const bus = await connectBus({ url: server.url, prefix, name: "call-results-test" });
    const store = objectCallResultStore(await bus.objects("tool-call-results"));
    const outcome = { status: "ok", output: { n: 1 }, durationMs: 3 } as ToolOutcome;
    await store.put("good", outcome);
    const raw = await connect(natsConnectOptions(server.url));
    const objects = await new Objm(raw).open(new Naming(prefix).bucket("tool-call-results"));
    await objects.putBlob({ name: "utf8" }, new Uint8Array([0xc3, 0x28, 0xff]));
    await objects.putBlob({ name: "shape" }, new TextEncoder().encode('{"status":"maybe"}'));

    expect(await store.get("good")).toEqual(outcome);
    expect(await store.get("utf8")).toBeUndefined();
    expect(await store.get("shape")).toBeUndefined();

    const quarantine = await openQuarantine({ url: server.url, prefix });
    const entries = await quarantine.list({ bucket: "tool-call-results" });
    expect(entries.map((entry) => entry.key).sort()).toEqual(["shape", "utf8"]);
    expect(entries.find((entry) => entry.key === "shape")?.reason).toMatch(/not a tool outcome/);
    await quarantine.close();
    await raw.close();
    await bus.drain();
  });
});
