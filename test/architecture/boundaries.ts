/**
 * The package layering the design states, read from the source (static: reads files, runs nothing).
 * `findViolations(root)` names every import that breaks one of these rules:
 * - `undeclared`: a package imports an @insitu/* package its package.json does not declare
 *   (turbo's task graph and cache follow the declarations; scripts/sync-workspace-deps.mjs writes them);
 * - `internal-import`: `@insitu/x/<path>` where `./<path>` is not one of x's `exports` doors;
 * - `relative-cross-package`: a relative path that leaves the importing package's folder;
 * - `lib-imports-service`: a lib (libs/*) imports a service (services/*);
 * - `app-imported`: a lib, service or app imports an application (apps/*); only test/ may (apps may
 *   import libs and services through their doors, like any package);
 * - `role-imports-role`: one role service imports another;
 * - `sandbox-imports-llm`: the sandbox imports the model layer;
 * - `testing-door-in-production`: production code imports a `/testing` door (its own or another's);
 * - `fake-in-production`: production code imports one of its package's fakes directly.
 * Production code is an apps/libs/services file that is not a test (`*.test.ts`), not under `scripts/`,
 * and not a fake. A package's fakes are its testing door, what that door re-exports
 * (`export … from "./x.js"`), and files named `fake-*` / `*-fake`.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export const ROLES = ["manager", "tool-developer", "executor", "integrator", "evolver"];
/** A workspace's kind, by its top folder (anything else, i.e. test/, is "test"). */
const KINDS: Record<string, Workspace["kind"]> = { apps: "app", libs: "lib", services: "service" };
const SKIP = new Set(["node_modules", "vendor", "runner", "corpus", "dist"]);
/** from "…", import "…", import("…") — the specifier in group 1. */
const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*"([^"\n]+)"/g;
const REEXPORT = /\bexport\s+(?:type\s+)?(?:\*|\{[^}]*\})\s*from\s*"(\.[^"\n]+)"/g;

interface Workspace {
  dir: string;
  name: string;
  short: string;
  kind: "app" | "lib" | "service" | "test";
  declared: Set<string>;
  /** Export doors without the leading "./" ("" for "."). */
  doors: Set<string>;
  fakes: Set<string>;
}

export function findViolations(root: string): string[] {
  const all = workspaces(root);
  const byName = new Map(all.map((w) => [w.name, w]));
  const violations: string[] = [];
  for (const workspace of all) {
    for (const file of sourceFiles(workspace.dir)) {
      const path = relative(root, file);
      const production = isProduction(workspace, file);
      for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
        const spec = match[1] ?? "";
        if (spec.startsWith(".")) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(workspace.dir + sep))
            violations.push(`relative-cross-package ${path} ${spec}`);
          else if (production && /(^|\/)testing(\.[jt]s)?$/.test(spec))
            violations.push(`testing-door-in-production ${path} ${spec}`);
          else if (production && workspace.fakes.has(tsFile(target)))
            violations.push(`fake-in-production ${path} ${spec}`);
          continue;
        }
        const parts = /^(@insitu\/[^/]+)(?:\/(.+))?$/.exec(spec);
        if (!parts) continue;
        const target = parts[1] ?? "";
        const door = parts[2] ?? "";
        const other = byName.get(target);
        if (!other || other === workspace) continue;
        if (!workspace.declared.has(target))
          violations.push(`undeclared ${workspace.name} imports ${target}`);
        if (!other.doors.has(door)) violations.push(`internal-import ${path} ${spec}`);
        if (door === "testing" && production) violations.push(`testing-door-in-production ${path} ${spec}`);
        if (workspace.kind === "lib" && other.kind === "service")
          violations.push(`lib-imports-service ${path} ${target}`);
        if (other.kind === "app" && workspace.kind !== "test")
          violations.push(`app-imported ${path} ${target}`);
        if (ROLES.includes(workspace.short) && ROLES.includes(other.short))
          violations.push(`role-imports-role ${path} ${target}`);
        if (workspace.short === "sandbox" && other.short === "llm")
          violations.push(`sandbox-imports-llm ${path}`);
      }
    }
  }
  return [...new Set(violations)].sort();
}

function workspaces(root: string): Workspace[] {
  const rootManifest = readJson(join(root, "package.json"));
  const patterns = (rootManifest?.workspaces ?? []) as unknown as string[];
  const dirs = patterns.flatMap((pattern) =>
    pattern.endsWith("/*")
      ? readdirSync(join(root, pattern.slice(0, -2))).map((entry) => join(root, pattern.slice(0, -2), entry))
      : [join(root, pattern)],
  );
  const result: Workspace[] = [];
  for (const dir of dirs) {
    const manifest = readJson(join(dir, "package.json"));
    if (!manifest) continue;
    const group = relative(root, dir).split(sep)[0];
    const exportsMap = manifest.exports ?? { ".": "" };
    const doors = new Set(Object.keys(exportsMap).map((door) => door.replace(/^\.\/?/, "")));
    const fakes = new Set<string>();
    for (const [door, target] of Object.entries(exportsMap)) {
      if (!/(^|\/)testing$/.test(door) || typeof target !== "string") continue;
      const testingDoor = resolve(dir, target);
      fakes.add(testingDoor);
      for (const m of readFileSync(testingDoor, "utf8").matchAll(REEXPORT))
        fakes.add(tsFile(resolve(dirname(testingDoor), m[1] ?? "")));
    }
    for (const file of sourceFiles(dir)) if (/(^|[-.])fakes?([-.]|$)/.test(baseName(file))) fakes.add(file);
    const name = String(manifest.name);
    result.push({
      dir,
      name,
      short: name.replace("@insitu/", ""),
      kind: KINDS[group ?? ""] ?? "test",
      declared: new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.devDependencies ?? {}),
      ]),
      doors,
      fakes,
    });
  }
  return result;
}

function isProduction(workspace: Workspace, file: string): boolean {
  if (workspace.kind === "test") return false;
  const inside = relative(workspace.dir, file);
  return !/\.test\.ts$/.test(file) && !inside.startsWith(`scripts${sep}`) && !workspace.fakes.has(file);
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      if (SKIP.has(entry)) continue;
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (full.endsWith(".ts") && !full.endsWith(".d.ts")) files.push(full);
    }
  };
  walk(dir);
  return files;
}

/** The .ts file a specifier names (imports say `./x.js` for `./x.ts`). */
function tsFile(path: string): string {
  const ts = path.replace(/\.js$/, ".ts");
  if (existsSync(ts)) return ts;
  return existsSync(`${path}.ts`) ? `${path}.ts` : path;
}

function baseName(file: string): string {
  return (file.split(sep).pop() ?? "").replace(/\.ts$/, "");
}

function readJson(path: string): Record<string, Record<string, string>> | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, Record<string, string>>;
  } catch {
    return undefined;
  }
}
