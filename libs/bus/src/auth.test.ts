import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BUS_USERS,
  busUsers,
  loadOrCreateBusCredentials,
  natsConnectOptions,
  redactUrl,
  rolePermissions,
  urlWithCredentials,
} from "./auth.js";

const dir = mkdtempSync(join(tmpdir(), "insitu-auth-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bus credentials", () => {
  it("are generated once into a 0600 file and reused", async () => {
    const path = join(dir, "data", "bus-credentials.json");
    const first = await loadOrCreateBusCredentials(path);
    expect(Object.keys(first).sort()).toEqual([...BUS_USERS].sort());
    for (const password of Object.values(first)) expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateBusCredentials(path);
    expect(again).toEqual(first);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(first);
  });

  it("refuses a file that is not a credentials file, with a typed error", async () => {
    const path = join(dir, "broken.json");
    writeFileSync(path, '{"gateway":"x"}');
    await expect(loadOrCreateBusCredentials(path)).rejects.toMatchObject({ code: "INVALID_CONFIG" });
  });

  it("takes credentials from the URL or the environment, and never prints them", () => {
    const url = urlWithCredentials("nats://127.0.0.1:4222", "manager", "p@ss/word");
    expect(natsConnectOptions(url, {}, {})).toEqual({
      servers: ["nats://127.0.0.1:4222"],
      user: "manager",
      pass: "p@ss/word",
      inboxPrefix: "_INBOX.manager",
    });
    expect(natsConnectOptions("nats://h:1", {}, { NATS_USER: "sandbox", NATS_PASSWORD: "pw" })).toMatchObject(
      {
        user: "sandbox",
        pass: "pw",
      },
    );
    expect(natsConnectOptions("nats://h:1", {}, {})).toEqual({ servers: ["nats://h:1"] });
    expect(redactUrl(url)).toBe("nats://***@127.0.0.1:4222");
  });

  it("gives each role only its prefix's subjects, its own inbox, and the admin everything", () => {
    const users = busUsers(Object.fromEntries(BUS_USERS.map((user) => [user, "x"])), "tenant-a");
    expect(users.find((user) => user.user === "insitu-admin")?.permissions).toBeUndefined();
    const executor = rolePermissions("executor", "tenant-a");
    expect(executor.publish.allow).toContain("tenant-a.registry.record-usage");
    expect(executor.publish.allow).not.toContain("tenant-a.registry.register");
    expect(executor.publish.allow).not.toContain(">");
    expect(executor.subscribe.allow).toEqual(
      expect.arrayContaining(["tenant-a.executor.external-tools", "_INBOX.executor.>"]),
    );
    expect(executor.subscribe.allow).not.toContain("_INBOX.>");
    expect(executor.publish.allow).toContain("$KV.tenant-a_tool-call-claims.>");
    expect(executor.publish.allow).not.toContain("$KV.tenant-a_registry.>");
  });
});
