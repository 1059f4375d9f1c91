import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The monorepo root: the nearest ancestor whose package.json declares workspaces. The CLI runs
 * from any cwd (bin/insitu), so paths are found from this file, never from `process.cwd()`.
 */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let current = resolve(start);
  for (;;) {
    const manifest = join(current, "package.json");
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { workspaces?: unknown };
        if (Array.isArray(parsed.workspaces)) return current;
      } catch {
        // an unreadable package.json is not the root; keep walking
      }
    }
    const parent = dirname(current);
    if (parent === current) throw new Error(`no workspace root above ${start}`);
    current = parent;
  }
}
