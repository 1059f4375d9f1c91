// node:child_process is a subprocess by another name (an empty env so that env access is not the
// first thing denied).
import { spawnSync } from "node:child_process";

export default async function run(_input: unknown): Promise<unknown> {
  return spawnSync("/bin/sh", ["-c", "id"], { env: {} }).stdout?.toString() ?? null;
}
