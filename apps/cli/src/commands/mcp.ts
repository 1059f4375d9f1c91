import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { connectBus } from "@insitu/bus";
import {
  LibraryCatalog,
  busLibraryPort,
  busTaskPort,
  callPolicyFromEnv,
  serveLibraryOverStdio,
} from "@insitu/mcp";
import { signerFromPrivateKey } from "@insitu/contracts";
import { createLogger } from "@insitu/telemetry";
import { type CliIo, ExitCode } from "../io.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { loadOrCreateStackKeys } from "../stack/signing-keys.js";
import { signingKeysPath } from "./keys.js";
import { reachStack, resolveTargets } from "../targets.js";

/**
 * `insitu mcp`: the library as an MCP server on stdin/stdout, against the running stack's NATS.
 * One client (the process that spawned us), so one session; the same per-session limits as the
 * gateway's `/mcp` apply.
 */
export async function runMcp(values: Record<string, unknown>, io: CliIo): Promise<number> {
  const targets = resolveTargets(values, io.env, await readStackState(findRepoRoot()));
  // stdout is the MCP channel: every log line goes to stderr.
  const logger = createLogger({
    service: "insitu-mcp",
    level: io.env.LOG_LEVEL === "debug" ? "debug" : "warn",
    write: (line) => io.err(`${line}\n`),
  });
  const bus = await reachStack(io, targets.natsUrl, () =>
    connectBus({ url: targets.natsUrl, prefix: targets.prefix, name: "insitu-mcp", logger }),
  );
  if (bus === undefined) return ExitCode.unreachable;
  const number = (name: string, fallback: number) => {
    const value = Number(io.env[name]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  // Usage is recorded only when signed by a key the registry trusts (ADR 0125): the gateway's, from
  // the environment or the key file of the local stack (`insitu up`); never a new key.
  const keysPath = signingKeysPath(findRepoRoot(), io.env);
  const keyText =
    io.env.GATEWAY_SIGNING_KEY ??
    (existsSync(keysPath) ? (await loadOrCreateStackKeys(keysPath)).keys.gateway.privateKey : undefined);
  const signer = keyText === undefined ? undefined : signerFromPrivateKey(keyText);
  if (!signer) {
    io.err(
      keyText === undefined
        ? `No gateway signing key: set GATEWAY_SIGNING_KEY (the stack's, see \`insitu keys\`) or start the stack here with \`insitu up\` (${keysPath})\n`
        : "GATEWAY_SIGNING_KEY is not an Ed25519 private key (base64url, 32 bytes); `insitu keys` prints the stack's\n",
    );
    await bus.drain();
    return ExitCode.notConfigured;
  }
  const catalog = new LibraryCatalog(
    busLibraryPort(bus, { sandboxTimeoutMs: number("INSITU_MCP_CALL_TIMEOUT_MS", 150_000), signer }),
    (error) => logger.warn("MCP library refresh failed", { error }),
  );
  try {
    await catalog.start();
    await serveLibraryOverStdio({
      catalog,
      policy: callPolicyFromEnv(io.env),
      limits: {
        callsPerMinute: number("INSITU_MCP_CALLS_PER_MINUTE", 600),
        maxConcurrent: number("INSITU_MCP_MAX_CONCURRENT", 4),
      },
      callerId: `mcp-stdio-${randomUUID().slice(0, 8)}`,
      ...(io.env.INSITU_MCP_ASK === "off"
        ? {}
        : { tasks: busTaskPort(bus, { waitMs: number("INSITU_MCP_ASK_WAIT_MS", 10 * 60_000) }) }),
      onError: (error, context) => logger.warn(`MCP: ${context}`, { error }),
    });
    return ExitCode.ok;
  } finally {
    catalog.stop();
    await bus.drain();
  }
}
