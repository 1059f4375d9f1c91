// node: built-ins are permission-checked like Deno APIs.
import { readFileSync } from "node:fs";

export default async function run(_input: unknown): Promise<unknown> {
  return readFileSync("/etc/passwd", "utf8");
}
