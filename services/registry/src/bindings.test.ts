import type { Bus } from "@insitu/bus";
import { createMemoryBus } from "@insitu/bus/testing";
import { RegistryBindingGet, RegistryCodeGet, RegistryRegister } from "@insitu/contracts";
import { createLogger } from "@insitu/telemetry";
import { computeCodeHash } from "@insitu/tool-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Registry } from "./registry.js";
import { registerRequest, serveRegistry } from "./testing.js";

// Unit test on the in-memory bus (a labelled fake of NATS KV / request-reply): the registry's side
// of tools by content address (docs/adr/0160). The sandbox's side runs on real NATS and Deno in
// services/sandbox/src/code-by-hash.int.test.ts.
const _logger = createLogger({ service: "registry-bindings-test", level: "error" });

describe("registry bindings and code by hash", () => {
  let bus: Bus;
  let registry: Registry;

  beforeEach(async () => {
    bus = createMemoryBus();
    registry = await serveRegistry(bus);
  });
  afterEach(() => registry.stop());

  it("binds a version by manifest and code hash, without its code", async () => {
    const request = registerRequest("task-a", "word_count", "Counts the words of a text.");
    const { hash } = await bus.request(RegistryRegister, request);
    const binding = await bus.request(RegistryBindingGet, { by: "hash", hash });
    expect(binding).toEqual({
      version: hash,
      name: "word_count",
      status: "task-private",
      manifest: request.manifest,
      codeHash: computeCodeHash(request.code),
    });
    // By name within the task, as `registry.get` resolves it.
    expect(
      await bus.request(RegistryBindingGet, { by: "name", name: "word_count", taskId: "task-a" }),
    ).toEqual(binding);
  });

  it("serves code only against the hash it has", async () => {
    const request = registerRequest("task-a", "word_count", "Counts the words of a text.");
    const { hash } = await bus.request(RegistryRegister, request);
    const codeHash = computeCodeHash(request.code);
    // With the manifest the registry admitted: the one the sandbox enforces.
    expect(await bus.request(RegistryCodeGet, { version: hash, codeHash })).toEqual({
      code: request.code,
      manifest: request.manifest,
    });
    await expect(
      bus.request(RegistryCodeGet, { version: hash, codeHash: computeCodeHash(`${request.code}\n`) }),
    ).rejects.toMatchObject({ code: "TOOL_CODE_HASH_MISMATCH" });
    await expect(
      bus.request(RegistryCodeGet, { version: `sha256:${"0".repeat(64)}`, codeHash }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
