import { redactUrl } from "@insitu/bus";
import type { CliIo } from "./io.js";
import type { StackState } from "./stack/state.js";

/** Where the CLI finds the stack: flags, then the running `insitu up` stack, then env, then defaults. */
export interface Targets {
  gatewayUrl: string;
  natsUrl: string;
  monitorUrl: string;
  prefix: string;
  /** Where each value came from (shown by `status` so a wrong target is easy to spot). */
  source: "flags" | "stack" | "env" | "defaults";
}

export const DEFAULTS = {
  gatewayPort: 8080,
  natsPort: 4222,
  natsMonitorPort: 8222,
  prefix: "insitu",
} as const;

export function resolveTargets(
  values: Record<string, unknown>,
  env: Record<string, string | undefined>,
  state: StackState | undefined,
): Targets {
  const flag = (name: string): string | undefined =>
    typeof values[name] === "string" ? (values[name] as string) : undefined;
  const gatewayPort = state?.services.gateway?.port;
  const stackGateway = gatewayPort ? `http://127.0.0.1:${gatewayPort}` : undefined;
  const pick = (
    fromFlag: string | undefined,
    fromStack: string | undefined,
    fromEnv: string | undefined,
    fallback: string,
  ) => fromFlag ?? fromStack ?? fromEnv ?? fallback;
  const source = ["gateway", "nats", "monitor", "prefix"].some((name) => flag(name))
    ? "flags"
    : state
      ? "stack"
      : env.NATS_URL || env.INSITU_GATEWAY_URL
        ? "env"
        : "defaults";
  return {
    gatewayUrl: pick(
      flag("gateway"),
      stackGateway,
      env.INSITU_GATEWAY_URL,
      `http://127.0.0.1:${DEFAULTS.gatewayPort}`,
    ),
    natsUrl: pick(flag("nats"), state?.natsUrl, env.NATS_URL, `nats://127.0.0.1:${DEFAULTS.natsPort}`),
    monitorUrl: pick(
      flag("monitor"),
      state?.natsMonitorUrl,
      env.NATS_MONITOR_URL,
      `http://127.0.0.1:${DEFAULTS.natsMonitorPort}`,
    ),
    prefix: pick(flag("prefix"), state?.prefix, env.NATS_PREFIX, DEFAULTS.prefix),
    source,
  };
}

/**
 * Opens something on the stack's NATS (a bus, an admin view), or says on stderr that the stack
 * cannot be reached and returns undefined — the caller then exits with `ExitCode.unreachable`.
 */
export async function reachStack<T>(
  io: CliIo,
  natsUrl: string,
  open: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await open();
  } catch (error) {
    io.err(
      `Cannot reach NATS at ${redactUrl(natsUrl)} — is the stack running? (${(error as Error).message})\n`,
    );
    return undefined;
  }
}
