import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** A service the stack can start: `services/<name>/src/main.ts`. */
export interface ServiceEntry {
  name: string;
  main: string;
}

/**
 * Services that other roles call on start-up go first, the public gateway last, so the labelled
 * logs read in dependency order. Start-up itself is parallel; readiness is what the stack waits on.
 */
const START_ORDER = ["registry", "sandbox", "tool-developer", "executor", "integrator", "evolver", "manager"];

export function orderServices(names: readonly string[]): string[] {
  const rank = (name: string): number => {
    if (name === "gateway") return Number.MAX_SAFE_INTEGER;
    const index = START_ORDER.indexOf(name);
    return index === -1 ? START_ORDER.length : index;
  };
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Every service that exists in this checkout (has a `src/main.ts`), in start order. */
export function discoverServices(root: string): ServiceEntry[] {
  const dir = join(root, "services");
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, "src", "main.ts")))
    .map((entry) => entry.name);
  return orderServices(names).map((name) => ({ name, main: join(dir, name, "src", "main.ts") }));
}
