import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vettedLibraries } from "./libraries.js";

describe("vettedLibraries", () => {
  it("prefers the configured list, else reads the sandbox import map", () => {
    const dir = mkdtempSync(join(tmpdir(), "libs-"));
    const map = join(dir, "import-map.json");
    writeFileSync(map, JSON.stringify({ imports: { papaparse: "./papaparse.js", dayjs: "./dayjs.js" } }));
    expect(vettedLibraries("mathjs, dayjs", map)).toEqual(["mathjs", "dayjs"]);
    expect(vettedLibraries("", map)).toEqual(["dayjs", "papaparse"]);
    expect(vettedLibraries("", join(dir, "missing.json"))).toEqual([]);
  });
});
