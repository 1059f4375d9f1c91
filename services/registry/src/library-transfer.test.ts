import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "@insitu/bus";
import { createMemoryBus } from "@insitu/bus/testing";
import {
  RegistryAbsorb,
  RegistryLibraryExport,
  RegistryLibraryImport,
  RegistryList,
  RegistryRegister,
} from "@insitu/contracts";
import { createLogger } from "@insitu/telemetry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportLibrary } from "./export.js";
import type { Registry } from "./registry.js";
import { registerRequest, serveRegistry } from "./testing.js";

// `registry.library.export|import` (docs/adr/0165): the library crosses the bus as the files of an
// exported folder, so a caller (the CLI) never opens the registry's buckets. In-memory bus here;
// test/e2e/cli-ask.test.ts runs `insitu library export|import` against a real stack.
const _logger = createLogger({ service: "registry-test", level: "error" });

describe("the library over the registry's endpoints", () => {
  let source: Bus;
  let target: Bus;
  const registries: Registry[] = [];
  const directories: string[] = [];

  beforeEach(async () => {
    source = createMemoryBus();
    target = createMemoryBus();
    registries.push(await serveRegistry(source), await serveRegistry(target));
    const a = await source.request(RegistryRegister, registerRequest("t", "trim_text", "Trims whitespace."));
    const b = await source.request(
      RegistryRegister,
      registerRequest("t", "upper_case", "Upper-cases a text."),
    );
    await source.request(RegistryAbsorb, {
      expectedSnapshot: 0,
      changes: [
        { op: "add", hash: a.hash },
        { op: "add", hash: b.hash },
      ],
      reason: "r",
    });
  });
  afterEach(async () => {
    for (const registry of registries.splice(0)) registry.stop();
    for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
  });

  it("exports exactly the files the folder export writes, and imports them as one snapshot", async () => {
    const exported = await source.request(RegistryLibraryExport, {});
    expect(exported).toMatchObject({ snapshot: 1, tools: 2 });
    const directory = await mkdtemp(join(tmpdir(), "registry-transfer-"));
    directories.push(directory);
    await exportLibrary(registries[0]!, directory);
    expect(Object.keys(exported.files).sort()).toEqual(
      [
        "library.json",
        ...["trim_text", "upper_case"].flatMap((name) =>
          ["lineage.json", "manifest.json", "module.ts", "tests.json"].map((file) => `${name}/${file}`),
        ),
      ].sort(),
    );
    for (const name of ["trim_text", "upper_case"]) {
      expect((await readdir(join(directory, name))).sort()).toEqual([
        "lineage.json",
        "manifest.json",
        "module.ts",
        "tests.json",
      ]);
      for (const file of ["module.ts", "tests.json", "manifest.json", "lineage.json"])
        expect(exported.files[`${name}/${file}`]).toBe(await readFile(join(directory, name, file), "utf8"));
    }

    const imported = await target.request(RegistryLibraryImport, {
      directory: "/exports/lib",
      folder: true,
      files: exported.files,
    });
    expect(imported).toMatchObject({
      tools: 2,
      created: 2,
      edited: [],
      snapshot: { number: 1, kind: "import", size: 2 },
    });
    expect(imported.snapshot?.reason).toBe("import of /exports/lib");
    // The same tools, hashes, lineage and descriptions; brought in, so not created here (EGL).
    const withoutOrigin = async (bus: Bus) =>
      (await bus.request(RegistryList, {})).tools.map(({ origin, ...tool }) => ({ ...tool, origin: "·" }));
    expect(await withoutOrigin(target)).toEqual(await withoutOrigin(source));
    expect(new Set((await target.request(RegistryList, {})).tools.map((tool) => tool.origin))).toEqual(
      new Set(["imported"]),
    );
  });

  it("refuses a bad folder with the typed error an import on disk gives, storing nothing", async () => {
    const { files } = await source.request(RegistryLibraryExport, {});
    const edited = { ...files, "upper_case/module.ts": `${files["upper_case/module.ts"]}\n// reviewed\n` };
    const refusals: [Parameters<typeof target.request<typeof RegistryLibraryImport>>[1], RegExp][] = [
      [{ directory: "/x", folder: false, files: {} }, /^\/x: no such folder/],
      [
        { directory: "/x", folder: true, files: { ...files, "library.json": "{not json" } },
        /library\.json is not JSON/,
      ],
      [
        { directory: "/x", folder: true, files, unreadable: { "trim_text/manifest.json": "EACCES" } },
        /^\/x\/trim_text: manifest\.json cannot be read \(EACCES\)/,
      ],
      [
        { directory: "/x", folder: true, files: edited, replace: true, requireUnchanged: true },
        /upper_case: .*no longer hash to the recorded version/,
      ],
    ];
    for (const [request, message] of refusals) {
      const missing = { ...request, files: { ...request.files } };
      if (request.unreadable) for (const path of Object.keys(request.unreadable)) delete missing.files[path];
      const error = await target.request(RegistryLibraryImport, missing).catch((failure: unknown) => failure);
      expect(error).toMatchObject({ code: "INVALID_EXPORT", category: "user" });
      expect((error as Error).message).toMatch(message);
    }
    expect(await target.request(RegistryList, {})).toMatchObject({ tools: [] });
  });
});
