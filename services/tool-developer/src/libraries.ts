import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The sandbox's import map in this checkout (the vetted, pinned libraries tools may import). */
export const DEFAULT_IMPORT_MAP = fileURLToPath(
  new URL("../../sandbox/vendor/import-map.json", import.meta.url),
);

/**
 * Import specifiers the model may use: the explicit list when one is configured, else the keys of
 * the sandbox's import map when it is on this machine, else none (web-standard APIs only). The
 * sandbox enforces its own list; this only tells the model what exists.
 */
export function vettedLibraries(configured: string, importMapPath: string = DEFAULT_IMPORT_MAP): string[] {
  const explicit = configured
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  if (explicit.length > 0) return explicit;
  if (!existsSync(importMapPath)) return [];
  try {
    const parsed = JSON.parse(readFileSync(importMapPath, "utf8")) as { imports?: Record<string, unknown> };
    return Object.keys(parsed.imports ?? {}).sort();
  } catch {
    return [];
  }
}
