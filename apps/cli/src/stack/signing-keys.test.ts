import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signerFromPrivateKey } from "@insitu/contracts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keyLines } from "../commands/keys.js";
import { loadOrCreateStackKeys, signingEnv } from "./signing-keys.js";

describe("the local stack's signing keys", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "insitu-keys-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("writes a set once (mode 0600) and reuses it on every later start", async () => {
    const path = join(dir, "data", "signing-keys.json");
    const first = await loadOrCreateStackKeys(path);
    expect(first.created).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    for (const pair of Object.values(first.keys)) {
      expect(signerFromPrivateKey(pair.privateKey)?.publicKey).toBe(pair.publicKey);
    }
    const second = await loadOrCreateStackKeys(path);
    expect(second).toEqual({ keys: first.keys, created: false });
  });

  it("puts it back to 0600 and refuses a file that was edited into mismatched pairs", async () => {
    const path = join(dir, "signing-keys.json");
    const { keys } = await loadOrCreateStackKeys(path);
    await writeFile(path, JSON.stringify(keys), { mode: 0o644 });
    await loadOrCreateStackKeys(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeFile(
      path,
      JSON.stringify({ ...keys, sandbox: { ...keys.sandbox, publicKey: keys.executor.publicKey } }),
    );
    await expect(loadOrCreateStackKeys(path)).rejects.toMatchObject({ code: "BAD_SIGNING_KEYS" });
    await writeFile(path, "not json");
    await expect(loadOrCreateStackKeys(path)).rejects.toMatchObject({ code: "BAD_SIGNING_KEYS" });
    expect(await readFile(path, "utf8")).toBe("not json");
  });

  it("gives each private key only to its signer and the public keys to everyone", async () => {
    const { keys } = await loadOrCreateStackKeys(join(dir, "k.json"));
    const env = signingEnv(keys);
    expect(env.common).toEqual({
      TRUSTED_SANDBOX_KEYS: keys.sandbox.publicKey,
      TRUSTED_USAGE_KEYS: `${keys.executor.publicKey},${keys.gateway.publicKey}`,
    });
    expect(env.services).toEqual({
      sandbox: { SANDBOX_SIGNING_KEY: keys.sandbox.privateKey },
      executor: { EXECUTOR_SIGNING_KEY: keys.executor.privateKey },
      gateway: { GATEWAY_SIGNING_KEY: keys.gateway.privateKey },
    });
    expect(JSON.stringify(env.common)).not.toContain(keys.sandbox.privateKey);
    expect(
      keyLines(keys)
        .trim()
        .split("\n")
        .map((line) => line.split("=")[0]),
    ).toEqual([
      "SANDBOX_SIGNING_KEY",
      "EXECUTOR_SIGNING_KEY",
      "GATEWAY_SIGNING_KEY",
      "TRUSTED_SANDBOX_KEYS",
      "TRUSTED_USAGE_KEYS",
    ]);
  });
});
