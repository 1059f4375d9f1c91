/**
 * The layering the design states, checked on the source (static: reads files, runs nothing):
 * - a package declares every @insitu/* package it imports (so turbo's task graph and cache are right);
 * - no package reaches into another's files (only its `exports` doors);
 * - libs never import services; roles never import each other; the sandbox never imports the model layer;
 * - production code never imports a `/testing` door (fakes are for tests).
 * Known violations are listed by name below (a ratchet: a new one fails; fixing one means deleting it here).
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator", "evolver"];

interface Workspace {
  dir: string;
  name: string;
  kind: "lib" | "service" | "test";
  declared: Set<string>;
  exports: Set<string>;
}

/** Imports that break a rule today, to be removed as issue 12 lands. */
const KNOWN_VIOLATIONS = new Set<string>([
  // The CLI still opens the registry service's buckets for export/import, and for a batch's warm start.
  "lib-imports-service libs/cli/src/commands/library.ts @insitu/registry",
  "lib-imports-service libs/cli/src/commands/batch.ts @insitu/registry",
  // The evolver writes merged tools with the tool developer's developTool in-process (one way of
  // writing a tool) instead of over the bus; the shared part belongs in a library (issue 12).
  "role-imports-role services/evolver/src/absorb.ts @insitu/tool-developer",
  "role-imports-role services/evolver/src/adapters.ts @insitu/tool-developer",
  "role-imports-role services/evolver/src/main.ts @insitu/tool-developer",
]);

function workspaces(): Workspace[] {
  const result: Workspace[] = [];
  for (const group of ["libs", "services"]) {
    for (const entry of readdirSync(join(root, group))) {
      const dir = join(root, group, entry);
      const manifest = readJson(join(dir, "package.json"));
      if (!manifest) continue;
      result.push({
        dir,
        name: String(manifest.name),
        kind: group === "libs" ? "lib" : "service",
        declared: new Set([
          ...Object.keys(manifest.dependencies ?? {}),
          ...Object.keys(manifest.devDependencies ?? {}),
        ]),
        exports: new Set(
          Object.keys(manifest.exports ?? { ".": "" }).map((door) => door.replace(/^\.\/?/, "")),
        ),
      });
    }
  }
  return result;
}

function readJson(path: string): Record<string, Record<string, string>> | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, Record<string, string>>;
  } catch {
    return undefined;
  }
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      if (entry === "node_modules" || entry === "vendor" || entry === "runner") continue;
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (full.endsWith(".ts")) files.push(full);
    }
  };
  walk(join(dir, "src"));
  return files;
}

const IMPORT = /(?:from|import)\s*\(?\s*"(@insitu\/[a-z-]+)(?:\/([a-z-]+))?"/g;

function findViolations(): string[] {
  const all = workspaces();
  const byName = new Map(all.map((w) => [w.name, w]));
  const violations: string[] = [];
  for (const workspace of all) {
    for (const file of sourceFiles(workspace.dir)) {
      const text = readFileSync(file, "utf8");
      const path = relative(root, file);
      const isTest = /\.test\.ts$/.test(file) || /\/testing\.ts$/.test(file) || /\/testing\//.test(file);
      if (/from\s+"(\.\.\/)+(libs|services)\//.test(text)) violations.push(`relative-cross-package ${path}`);
      for (const match of text.matchAll(IMPORT)) {
        const target = match[1] ?? "";
        const door = match[2];
        const spec = door ? `${target}/${door}` : target;
        const other = byName.get(target);
        if (!other || other === workspace) continue;
        if (!workspace.declared.has(target))
          violations.push(`undeclared ${workspace.name} imports ${target}`);
        if (door && !other.exports.has(door)) violations.push(`internal-import ${path} ${spec}`);
        if (door === "testing" && !isTest) violations.push(`testing-door-in-production ${path} ${spec}`);
        if (workspace.kind === "lib" && other.kind === "service")
          violations.push(`lib-imports-service ${path} ${target}`);
        const self = workspace.name.replace("@insitu/", "");
        const them = target.replace("@insitu/", "");
        if (ROLES.includes(self) && ROLES.includes(them))
          violations.push(`role-imports-role ${path} ${target}`);
        if (self === "sandbox" && them === "llm") violations.push(`sandbox-imports-llm ${path}`);
      }
    }
  }
  return [...new Set(violations)].sort();
}

describe("package boundaries", () => {
  it("hold, apart from the known violations listed in this file", () => {
    const found = findViolations();
    expect(found.filter((v) => !KNOWN_VIOLATIONS.has(v))).toEqual([]);
  });

  it("the known-violations list holds nothing that is already fixed", () => {
    const found = new Set(findViolations());
    expect([...KNOWN_VIOLATIONS].filter((v) => !found.has(v))).toEqual([]);
  });
});
