import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BUS_USERS,
  busUsers,
  jetStreamApi,
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

  it("gives each role only the JetStream API its grant needs, never management (ADR 0171)", () => {
    for (const user of BUS_USERS.filter((name) => name !== "insitu-admin")) {
      const { publish } = rolePermissions(user as never, "tenant-a");
      expect(
        publish.allow.filter((subject) => /^(\$JS\.API\.>|_INBOX|\$JS\.FC)/.test(subject)),
        user,
      ).toEqual([]);
      const api = jetStreamApi(user as never, "tenant-a");
      expect(
        api.filter((s) => /\.(STREAM\.(UPDATE|DELETE|NAMES|LIST)|CONSUMER\.LIST)\b/.test(s)),
        user,
      ).toEqual([]);
      expect(
        api.filter((s) => /STREAM\.PURGE\.(?!OBJ_)/.test(s)),
        user,
      ).toEqual([]);
      expect(
        api.every((s) => !s.endsWith("$JS.API.>") && !s.includes(".*.")),
        user,
      ).toBe(true);
    }
    const executor = jetStreamApi("executor", "tenant-a");
    expect(executor).toEqual(
      expect.arrayContaining([
        "$JS.API.INFO",
        "$JS.API.CONSUMER.MSG.NEXT.TENANT_A_EXECUTOR_RUN.TENANT_A_EXECUTOR_RUN",
        "$JS.API.STREAM.INFO.TENANT_A_MANAGER_WORK",
        "$JS.API.DIRECT.GET.KV_tenant-a_tool-call-claims.>",
        "$JS.API.STREAM.PURGE.OBJ_tenant-a_tool-call-results",
      ]),
    );
    // it feeds the manager's queue but never pulls from it, and never touches the registry's KV
    expect(executor.some((s) => s.includes("CONSUMER") && s.includes("MANAGER_WORK"))).toBe(false);
    expect(executor.some((s) => s.includes("KV_tenant-a_registry"))).toBe(false);
    // the evolver reads the registry's documents and cannot write them
    expect(jetStreamApi("evolver", "tenant-a")).toContain("$JS.API.DIRECT.GET.KV_tenant-a_registry.>");
    expect(rolePermissions("evolver", "tenant-a").publish.allow).not.toContain("$KV.tenant-a_registry.>");
    expect(rolePermissions("sandbox", "tenant-a").allow_responses).toEqual({ max: -1, expires: "1h" });
  });
});
