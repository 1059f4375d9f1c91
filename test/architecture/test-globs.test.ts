/**
 * Every tracked test file runs in exactly one vitest project: a package moved to a new folder
 * (libs/cli → apps/cli, ADR 0168) or a test named outside the globs of vitest.config.ts would
 * otherwise stop running without a failure. Compares vitest's own file list with git's.
 */
import { execFileSync } from "node:child_process";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("vitest projects", () => {
  it("run every tracked *.test.ts file once (benches apart)", () => {
    const listed = JSON.parse(
      execFileSync(
        process.execPath,
        [join(root, "node_modules/vitest/vitest.mjs"), "list", "--filesOnly", "--json"],
        {
          cwd: root,
          encoding: "utf8",
          env: { ...process.env, NO_COLOR: "1" },
        },
      ),
    ) as { file: string; projectName: string }[];
    const projects = new Map<string, string[]>();
    for (const { file, projectName } of listed) {
      const path = relative(root, file);
      projects.set(path, [...(projects.get(path) ?? []), projectName]);
    }
    const tracked = execFileSync("git", ["ls-files", "-z", "--", "*.test.ts", ":(exclude)test/bench/**"], {
      cwd: root,
      encoding: "utf8",
    })
      .split("\0")
      .filter(Boolean);
    expect(tracked.length).toBeGreaterThan(100);
    expect(tracked.filter((file) => !projects.has(file))).toEqual([]);
    expect([...projects].filter(([, names]) => names.length > 1)).toEqual([]);
  });
});
