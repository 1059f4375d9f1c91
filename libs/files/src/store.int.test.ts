import { randomBytes } from "node:crypto";
import {
  type Bus,
  Naming,
  type NatsServerHandle,
  connectBus,
  natsConnectOptions,
  openQuarantine,
  startNatsServer,
} from "@insitu/bus";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachSources } from "./attachments.js";
import { WORKSPACE_OBJECTS_BUCKET, WorkspaceStore } from "./store.js";

// The workspace store on a real nats-server: concurrent saves both land (compare-and-set on the
// index), and a workspace expires after the configured retention.

let server: NatsServerHandle;
const buses: Bus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await server?.dispose();
});

async function storeFor(retentionMs: number): Promise<WorkspaceStore> {
  const bus = await connectBus({
    url: server.url,
    prefix: `st${randomBytes(3).toString("hex")}`,
    name: "store-test",
  });
  buses.push(bus);
  return WorkspaceStore.open(bus, { retentionMs });
}

const text = (value: string) => new Uint8Array(Buffer.from(value));

describe("WorkspaceStore", () => {
  it("keeps every file of concurrent saves and replaces a path that is saved again", async () => {
    const store = await storeFor(3_600_000);
    await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        store.save("t1", [
          { path: `f${index}.txt`, bytes: text(`file ${index}`), mediaType: "text/plain", source: "tool" },
        ]),
      ),
    );
    expect((await store.list("t1")).map((entry) => entry.path).sort()).toEqual(
      Array.from({ length: 8 }, (_, index) => `f${index}.txt`),
    );
    await store.save("t1", [
      { path: "f0.txt", bytes: text("changed"), mediaType: "text/plain", source: "tool" },
    ]);
    const again = await store.readPath("t1", "f0.txt");
    expect(Buffer.from(again?.bytes ?? []).toString()).toBe("changed");
    expect(await store.list("t2")).toEqual([]);
  });

  it("stores attachments from paths and data URIs for a batch caller", async () => {
    const store = await storeFor(3_600_000);
    const refs = await attachSources(
      store,
      "batch-1",
      ["files/towns.csv", `data:text/plain;base64,${Buffer.from("hello").toString("base64")}`],
      { baseDir: new URL("../../../test/fixtures/", import.meta.url).pathname },
    );
    expect(refs.map((ref) => [ref.name, ref.mediaType, ref.size])).toEqual([
      ["towns.csv", "text/csv", 60],
      ["attachment-2.txt", "text/plain", 5],
    ]);
    expect((await store.list("batch-1")).every((entry) => entry.source === "attachment")).toBe(true);
  });

  it("a workspace expires after the retention", async () => {
    const store = await storeFor(1000);
    await store.save("t-expiring", [
      { path: "a.txt", bytes: text("a"), mediaType: "text/plain", source: "tool" },
    ]);
    const [entry] = await store.list("t-expiring");
    expect(entry).toBeDefined();
    const deadline = Date.now() + 15_000;
    let files = await store.list("t-expiring");
    let bytes = await store.read("t-expiring", entry!);
    while ((files.length > 0 || bytes !== undefined) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      files = await store.list("t-expiring");
      bytes = await store.read("t-expiring", entry!).catch(() => undefined);
    }
    expect(files).toEqual([]);
    expect(bytes).toBeUndefined();
  });

  it("reads bytes that no longer match their digest as absent and quarantines them", async () => {
    const prefix = `st${randomBytes(3).toString("hex")}`;
    const bus = await connectBus({ url: server.url, prefix, name: "store-test" });
    buses.push(bus);
    const store = await WorkspaceStore.open(bus, { retentionMs: 3_600_000 });
    const [entry] = await store.save("t9", [
      { path: "a.txt", bytes: text("the original"), mediaType: "text/plain", source: "tool" },
    ]);
    const raw = await connect(natsConnectOptions(server.url));
    const objects = await new Objm(raw).open(new Naming(prefix).bucket(WORKSPACE_OBJECTS_BUCKET));
    const name = `t9/${entry?.digest.replace(/^sha256:/, "")}`;
    await objects.putBlob({ name }, text("something else"));
    expect(await store.readPath("t9", "a.txt")).toBeUndefined();
    const quarantine = await openQuarantine({ url: server.url, prefix });
    const entries = await quarantine.list({ bucket: WORKSPACE_OBJECTS_BUCKET });
    expect(entries.map((item) => item.key)).toEqual([name]);
    expect(entries[0]?.reason).toMatch(/does not match/);
    await quarantine.close();
    await raw.close();
  });
});
