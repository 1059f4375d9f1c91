import { natsConnectOptions } from "./auth.js";
import { randomBytes } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { Registry as MetricsRegistry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, Naming, type NatsServerHandle, openQuarantine, startNatsServer } from "./index.js";

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server.dispose();
});

const until = async <T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

describe("bad stored entries", () => {
  it("skips, counts, logs once and quarantines KV entries that cannot decode; the good ones still read", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const metrics = new MetricsRegistry();
    const logged: string[] = [];
    const bus = await connectBus({
      url: server.url,
      prefix,
      name: "bad-entries",
      metrics,
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: string, fields?: Record<string, unknown>) =>
          void logged.push(`${message} ${fields?.key}`),
        error: () => undefined,
        child() {
          return this;
        },
      } as never,
    });
    const kv = await bus.kv("things");
    await kv.put("good", { fine: true });
    const changes: Array<[string, unknown]> = [];
    await kv.watch((key, value) => void changes.push([key, value]));
    // Garbage written by something that is not insitu, bypassing the typed API.
    const raw = await connect(natsConnectOptions(server.url));
    const rawKv = await new Kvm(raw).open(new Naming(prefix).bucket("things"));
    await rawKv.put("utf8", new Uint8Array([0xc3, 0x28, 0xff]));
    await rawKv.put("json", new TextEncoder().encode("{not json"));
    await rawKv.put("deep", new TextEncoder().encode(`${"[".repeat(200)}${"]".repeat(200)}`));
    await kv.put("good-after", { fine: 2 });
    await until(async () => (changes.some(([key]) => key === "good-after") ? true : undefined));

    expect(await kv.get("good")).toMatchObject({ value: { fine: true } });
    for (const key of ["utf8", "json", "deep"]) expect(await kv.get(key)).toBeUndefined();
    // The watcher saw the good write, never a bad value.
    expect(changes.filter(([, value]) => value !== undefined).map(([key]) => key)).toEqual(["good-after"]);
    // Moved out of the bucket, into the quarantine, with its key and reason.
    expect((await kv.keys()).sort()).toEqual(["good", "good-after"]);
    const quarantine = await openQuarantine({ url: server.url, prefix });
    const entries = await until(async () => {
      const listed = await quarantine.list();
      return listed.length >= 3 ? listed : undefined;
    });
    expect(entries.map((entry) => entry.key).sort()).toEqual(["deep", "json", "utf8"]);
    expect(entries.find((entry) => entry.key === "utf8")).toMatchObject({ bucket: "things", size: 3 });
    expect(entries.find((entry) => entry.key === "json")?.reason).toMatch(/JSON/);
    // Counted once per entry (the watcher and get both met them), logged once per entry.
    const counted = (await metrics.getSingleMetricAsString("insitu_bad_entries_total")).match(
      /insitu_bad_entries_total\{bucket="things"\} (\d+)/,
    );
    expect(Number(counted?.[1])).toBe(3);
    expect(logged.filter((line) => line.startsWith("bad stored entry")).sort()).toEqual([
      "bad stored entry skipped and quarantined deep",
      "bad stored entry skipped and quarantined json",
      "bad stored entry skipped and quarantined utf8",
    ]);
    // A bucket nobody watches: `get` itself meets the garbage and must not throw.
    const direct = await bus.kv("direct");
    const rawDirect = await new Kvm(raw).open(new Naming(prefix).bucket("direct"));
    await rawDirect.put("bad", new Uint8Array([0xff]));
    expect(await direct.get("bad")).toBeUndefined();
    expect(await direct.keys()).toEqual([]);
    // A reader's own schema check quarantines too, and keeps a newer good value.
    const revision = await kv.put("wrong-shape", { nope: 1 });
    await kv.put("wrong-shape", { fine: 3 });
    await kv.quarantine("wrong-shape", revision, "no record");
    expect(await kv.get("wrong-shape")).toMatchObject({ value: { fine: 3 } });
    expect(await quarantine.purge()).toBe(5);
    await quarantine.close();
    await raw.close();
    await bus.drain();
  });

  it("skips, counts and quarantines objects that are corrupt or cannot decode; good ones still read", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const metrics = new MetricsRegistry();
    const bus = await connectBus({ url: server.url, prefix, name: "bad-objects", metrics });
    const objects = await bus.objects("blobs");
    await objects.put("good", new TextEncoder().encode('{"fine":true}'));
    await objects.put("binary", new Uint8Array([0xff, 0x00, 0xfe]));
    const raw = await connect(natsConnectOptions(server.url));
    const bucket = new Naming(prefix).bucket("blobs");
    const store = await new Objm(raw).open(bucket);
    await store.putBlob({ name: "utf8" }, new Uint8Array([0xc3, 0x28, 0xff]));
    await store.putBlob({ name: "json" }, new TextEncoder().encode("{not json"));
    // A chunk that does not belong: the object's bytes no longer match its digest.
    await store.putBlob({ name: "corrupt" }, new TextEncoder().encode('{"was":"fine"}'));
    const nuid = (await store.info("corrupt"))?.nuid;
    await jetstream(raw).publish(`$O.${bucket}.C.${nuid}`, new TextEncoder().encode("garbage"));

    expect(await objects.getJson("good")).toEqual({ fine: true });
    expect(await objects.get("binary")).toEqual(new Uint8Array([0xff, 0x00, 0xfe]));
    expect(await objects.getJson("utf8")).toBeUndefined();
    expect(await objects.getJson("json")).toBeUndefined();
    expect(await objects.get("corrupt")).toBeUndefined();
    expect(await objects.getJson("missing")).toBeUndefined();
    // A reader's own schema check quarantines too.
    await objects.put("wrong-shape", new TextEncoder().encode('{"nope":1}'));
    await objects.quarantine("wrong-shape", "no record");

    const quarantine = await openQuarantine({ url: server.url, prefix });
    const entries = await quarantine.list({ bucket: "blobs" });
    expect(entries.map((entry) => entry.key).sort()).toEqual(["corrupt", "json", "utf8", "wrong-shape"]);
    expect(entries.find((entry) => entry.key === "corrupt")?.reason).toMatch(/digests do not match/);
    expect(entries.find((entry) => entry.key === "json")?.reason).toMatch(/JSON/);
    expect(entries.find((entry) => entry.key === "wrong-shape")).toMatchObject({
      reason: "no record",
      size: 10,
    });
    // Moved out of the store; counted once each, however often read.
    for (const name of ["utf8", "json", "corrupt", "wrong-shape"]) {
      expect((await store.info(name))?.deleted ?? true).toBe(true);
      expect(await objects.get(name)).toBeUndefined();
    }
    const counted = (await metrics.getSingleMetricAsString("insitu_bad_entries_total")).match(
      /insitu_bad_entries_total\{bucket="blobs"\} (\d+)/,
    );
    expect(Number(counted?.[1])).toBe(4);
    expect(await objects.getJson("good")).toEqual({ fine: true });
    await quarantine.close();
    await raw.close();
    await bus.drain();
  });
});
