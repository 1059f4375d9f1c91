import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { SigningKeyEnv, generateSigningKey, signerFromPrivateKey } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { z } from "zod";

/**
 * The stack's signing keys (ADR 0125): the sandbox signs test reports, the executor and the
 * gateway sign usage outcomes; the registry (and the evolver) trust their public keys.
 */
const KeyPairSchema = z.object({ privateKey: z.string(), publicKey: z.string() }).strict();
export const StackSigningKeysSchema = z
  .object({ sandbox: KeyPairSchema, executor: KeyPairSchema, gateway: KeyPairSchema })
  .strict();
export type StackSigningKeys = z.infer<typeof StackSigningKeysSchema>;

/** One fresh key pair per signing role. */
export function generateStackKeys(): StackSigningKeys {
  const pair = () => {
    const { privateKey, publicKey } = generateSigningKey();
    return { privateKey, publicKey };
  };
  return { sandbox: pair(), executor: pair(), gateway: pair() };
}

/**
 * The environment the keys give: the public keys for every service (they are not secret), each
 * private key only to the service that signs with it.
 */
export function signingEnv(keys: StackSigningKeys): {
  common: Record<string, string>;
  services: Record<string, Record<string, string>>;
} {
  return {
    common: {
      [SigningKeyEnv.trustedSandbox]: keys.sandbox.publicKey,
      [SigningKeyEnv.trustedUsage]: `${keys.executor.publicKey},${keys.gateway.publicKey}`,
    },
    services: {
      sandbox: { [SigningKeyEnv.sandbox]: keys.sandbox.privateKey },
      executor: { [SigningKeyEnv.executor]: keys.executor.privateKey },
      gateway: { [SigningKeyEnv.gateway]: keys.gateway.privateKey },
    },
  };
}

/**
 * Reads `path` (written by an earlier `insitu up`), or writes a new set there; the file is kept
 * mode 0600 either way. A file that does not parse, or whose public keys do not match its private
 * keys, is refused rather than replaced: replacing it would orphan nothing today, but an operator
 * who edited it by hand should hear about it.
 */
export async function loadOrCreateStackKeys(
  path: string,
): Promise<{ keys: StackSigningKeys; created: boolean }> {
  let text: string | undefined;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text === undefined) {
    const keys = generateStackKeys();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
    await chmod(path, 0o600);
    return { keys, created: true };
  }
  let parsed: ReturnType<typeof StackSigningKeysSchema.safeParse>;
  try {
    parsed = StackSigningKeysSchema.safeParse(JSON.parse(text));
  } catch {
    parsed = StackSigningKeysSchema.safeParse(undefined);
  }
  const mismatched =
    parsed.success &&
    Object.entries(parsed.data).find(
      ([, pair]) => signerFromPrivateKey(pair.privateKey)?.publicKey !== pair.publicKey,
    );
  if (!parsed.success || mismatched) {
    throw new InsituError(
      `${path} is not a valid signing-keys file${mismatched ? ` (the ${mismatched[0]} key pair does not match)` : ""}; move it away and \`insitu up\` writes a new one`,
      { code: "BAD_SIGNING_KEYS", category: "user", details: { path } },
    );
  }
  await chmod(path, 0o600);
  return { keys: parsed.data, created: false };
}
