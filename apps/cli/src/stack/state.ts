import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { dataDir } from "./paths.js";

/**
 * What `insitu up` writes to `.data/stack.json` so `insitu status` / `ask` / `demo` in another
 * terminal find the running stack (URLs, ports, pids) without flags.
 */
export const StackStateSchema = z
  .object({
    pid: z.number().int(),
    startedAt: z.string(),
    natsUrl: z.string(),
    natsMonitorUrl: z.string().optional(),
    prefix: z.string(),
    services: z.record(
      z.string(),
      z.object({ port: z.number().int(), pid: z.number().int().optional() }).strict(),
    ),
    /** The model the services were started with (what `ask` checks before submitting). */
    model: z.object({ configured: z.boolean(), description: z.string().optional() }).strict().optional(),
  })
  .strict();
export type StackState = z.infer<typeof StackStateSchema>;

/** The local stack's bus users and passwords (`insitu up`), mode 0600. */
export function busCredentialsPath(root: string): string {
  return join(dataDir(root), "bus-credentials.json");
}

export function stackStatePath(root: string): string {
  return join(dataDir(root), "stack.json");
}

export async function writeStackState(root: string, state: StackState): Promise<void> {
  const path = stackStatePath(root);
  await mkdir(dirname(path), { recursive: true });
  // It holds the admin's bus credentials (natsUrl): the owner only.
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** The running stack's state, or undefined when none is recorded or its owner process is gone. */
export async function readStackState(root: string): Promise<StackState | undefined> {
  let text: string;
  try {
    text = await readFile(stackStatePath(root), "utf8");
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const result = StackStateSchema.safeParse(parsed);
  if (!result.success || !isAlive(result.data.pid)) return undefined;
  return result.data;
}

export async function removeStackState(root: string): Promise<void> {
  await rm(stackStatePath(root), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
