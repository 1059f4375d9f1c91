import { join } from "node:path";
import { SigningKeyEnv } from "@insitu/contracts";
import { type CliIo, ExitCode } from "../io.js";
import { dataDir } from "../stack/paths.js";
import { findRepoRoot } from "../stack/repo-root.js";
import {
  type StackSigningKeys,
  generateStackKeys,
  loadOrCreateStackKeys,
  signingEnv,
} from "../stack/signing-keys.js";

/** Where `insitu up` keeps the local stack's signing keys. */
export function signingKeysPath(root: string, env: Record<string, string | undefined> = process.env): string {
  return join(dataDir(root, env), "signing-keys.json");
}

/** The keys as `NAME=value` lines, in a fixed order (what compose's .env and a Secret take). */
export function keyLines(keys: StackSigningKeys): string {
  const env = signingEnv(keys);
  const all: Record<string, string> = { ...env.common };
  for (const service of Object.values(env.services)) Object.assign(all, service);
  return `${Object.values(SigningKeyEnv)
    .map((name) => `${name}=${all[name] ?? ""}`)
    .join("\n")}\n`;
}

/** `insitu keys [--new]`: prints the local stack's signing keys (or a fresh set). */
export async function runKeys(values: Record<string, unknown>, io: CliIo): Promise<number> {
  if (values.new === true) {
    io.out(keyLines(generateStackKeys()));
    return ExitCode.ok;
  }
  const path = signingKeysPath(findRepoRoot(), io.env);
  const { keys, created } = await loadOrCreateStackKeys(path);
  if (created) io.err(`wrote a new set to ${path} (mode 0600)\n`);
  io.out(keyLines(keys));
  return ExitCode.ok;
}
