import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { loadOrCreateBusCredentials, redactUrl } from "@insitu/bus";
import { isInsituError } from "@insitu/errors";
import { type CliIo, ExitCode, natsInstallHint } from "../io.js";
import { detectModelSetup } from "../model-setup.js";
import { discoverServices } from "../stack/discover.js";
import { formatLogLine } from "../stack/log-format.js";
import { dataDir } from "../stack/paths.js";
import { freePort, isPortInUse } from "../stack/ports.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { type Stack, startStack } from "../stack/stack.js";
import { busCredentialsPath, readStackState, removeStackState, writeStackState } from "../stack/state.js";
import { loadOrCreateStackKeys } from "../stack/signing-keys.js";
import { signingKeysPath } from "./keys.js";
import { DEFAULTS } from "../targets.js";

const MAX_RESTARTS = 5;

/** `insitu up`: the local stack in the foreground until Ctrl-C. */
export async function runUp(values: Record<string, unknown>, io: CliIo): Promise<number> {
  const root = findRepoRoot();
  const running = await readStackState(root);
  if (running) {
    io.err(
      `A stack is already running (pid ${running.pid}, gateway port ${running.services.gateway?.port ?? "none"}). See \`insitu status\`.\n`,
    );
    return ExitCode.usage;
  }
  const available = discoverServices(root).map((entry) => entry.name);
  const only =
    typeof values.only === "string"
      ? values.only
          .split(",")
          .map((name) => name.trim())
          .filter(Boolean)
      : undefined;
  const unknown = only?.filter((name) => !available.includes(name)) ?? [];
  if (unknown.length > 0) {
    io.err(`No such service: ${unknown.join(", ")}. Services here: ${available.join(", ") || "none"}\n`);
    return ExitCode.usage;
  }

  const replicas = parseReplicas(values.replicas);
  if (typeof replicas === "string") {
    io.err(`${replicas}\n`);
    return ExitCode.usage;
  }
  const badReplicas = Object.keys(replicas ?? {}).filter((name) => !(only ?? available).includes(name));
  if (badReplicas.length > 0) {
    io.err(`--replicas names a service that is not started: ${badReplicas.join(", ")}\n`);
    return ExitCode.usage;
  }

  const wantedGatewayPort = Number(values.port ?? io.env.INSITU_GATEWAY_PORT ?? DEFAULTS.gatewayPort);
  if (!Number.isInteger(wantedGatewayPort) || wantedGatewayPort <= 0 || wantedGatewayPort > 65_535) {
    io.err(`--port expects a port number, got ${String(values.port ?? io.env.INSITU_GATEWAY_PORT)}\n`);
    return ExitCode.usage;
  }
  const gatewayPort = await preferPort(wantedGatewayPort, "gateway", io);
  const external = io.env.NATS_URL;
  const natsPort = external
    ? undefined
    : await preferPort(Number(io.env.INSITU_NATS_PORT ?? DEFAULTS.natsPort), "NATS", io);
  const natsMonitorPort = external
    ? undefined
    : await preferPort(
        Number(io.env.INSITU_NATS_MONITOR_PORT ?? DEFAULTS.natsMonitorPort),
        "NATS monitor",
        io,
      );

  const model = detectModelSetup(io.env, root);
  if (!model.configured) io.err(`\nNote: ${model.message}\n\n`);

  const raw = values["raw-logs"] === true;
  const services = only ?? available;
  const labelWidth = Math.max(5, ...services.map((name) => name.length));
  let stack: Stack | undefined;
  // Ctrl-C while starting: stop what was started (children lead their own process groups, so
  // nothing else would).
  const starting = new AbortController();
  const abortStart = (): void => starting.abort();
  process.once("SIGINT", abortStart);
  process.once("SIGTERM", abortStart);
  const restarts = new Map<string, number>();
  io.out(
    `Starting ${external ? `against NATS at ${redactUrl(external)}` : "nats-server"} and ${services.length} service(s): ${services.join(", ") || "none"}\n`,
  );
  try {
    // The same keys every run (kept 0600 in the data dir), so a restarted service signs with the
    // key the others already trust (ADR 0125).
    const { keys: signingKeys } = await loadOrCreateStackKeys(signingKeysPath(root, io.env));
    stack = await startStack({
      root,
      // Generated once per data dir (mode 0600) and reused: docs/adr/0120.
      ...(external ? {} : { busCredentials: await loadOrCreateBusCredentials(busCredentialsPath(root)) }),
      services,
      signingKeys,
      natsDataDir: join(dataDir(root), "nats"),
      ...(natsPort === undefined ? {} : { natsPort }),
      ...(natsMonitorPort === undefined ? {} : { natsMonitorPort }),
      prefix: io.env.NATS_PREFIX ?? DEFAULTS.prefix,
      ports: { gateway: gatewayPort },
      ...(replicas ? { replicas } : {}),
      allowFailures: true,
      signal: starting.signal,
      onLog: (service, line) => {
        if (service === "nats" && !raw && !isNotableNatsLine(line)) return;
        io.out(`${formatLogLine(service, line, { labelWidth, color: io.color, raw })}\n`);
      },
      onUnexpectedExit: (service) => {
        // A crashed role is brought back (tasks are durable, so it picks up where it died).
        // While starting, a service that dies is reported as failed to start instead.
        if (!stack) return;
        const count = (restarts.get(service) ?? 0) + 1;
        restarts.set(service, count);
        if (count > MAX_RESTARTS) {
          io.err(`[stack] ${service} crashed ${count} times; not restarting it again\n`);
          return;
        }
        setTimeout(() => {
          stack
            ?.restart(service)
            .catch((error: unknown) =>
              io.err(`[stack] restart of ${service} failed: ${(error as Error).message}\n`),
            );
        }, 1000 * count);
      },
    });
  } catch (error) {
    if (isInsituError(error, "INTERRUPTED")) {
      io.err("Interrupted; everything that was started has been stopped.\n");
      return ExitCode.interrupted;
    }
    if (isInsituError(error, "NATS_SERVER_MISSING")) {
      io.err(`nats-server is not installed — ${natsInstallHint()}\n`);
      return ExitCode.notConfigured;
    }
    if (isInsituError(error)) {
      io.err(`insitu up failed: ${error.message}\n`);
      const lastLines = error.details.lastLines;
      if (Array.isArray(lastLines) && lastLines.length > 0)
        io.err(`last lines:\n  ${lastLines.join("\n  ")}\n`);
      return ExitCode.taskFailed;
    }
    throw error;
  } finally {
    process.off("SIGINT", abortStart);
    process.off("SIGTERM", abortStart);
  }

  await writeStackState(root, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    natsUrl: stack.natsUrl,
    ...(stack.natsMonitorUrl ? { natsMonitorUrl: stack.natsMonitorUrl } : {}),
    prefix: stack.prefix,
    services: Object.fromEntries(
      [...stack.services.values()].map((service) => [
        service.name,
        { port: service.port, ...(service.pid ? { pid: service.pid } : {}) },
      ]),
    ),
    model: model.configured ? { configured: true, description: model.description } : { configured: false },
  });

  await writePrometheusTargets(root, stack);
  const failedNames = new Set(stack.failed.map((entry) => entry.name));
  if (stack.failed.length > 0) {
    io.err(`\nCould not start: ${[...failedNames].join(", ")}\n`);
    for (const { name, error } of stack.failed) io.err(`  ${name}: ${failureReason(error)}\n`);
    if (!model.configured)
      io.err("  (the roles need a model — see the note above; `insitu demo` works without one)\n");
  }
  const gateway = stack.services.get("gateway");
  io.out(
    [
      "",
      "insitu is up.",
      gateway ? `  gateway   ${gateway.url}` : "  gateway   (not started)",
      `  NATS      ${stack.nats ? stack.nats.plainUrl : redactUrl(stack.natsUrl)}${stack.ownsNats ? `  (JetStream data in ${displayPath(join(dataDir(root), "nats"))}; users in ${displayPath(busCredentialsPath(root))})` : ""}`,
      `  services  ${[...stack.services.keys()].filter((name) => !failedNames.has(name)).join(", ") || "none"}` +
        (failedNames.size > 0 ? `  (not running: ${[...failedNames].join(", ")})` : ""),
      `  model     ${model.configured ? model.description : "NOT CONFIGURED (see the note above)"}`,
      "",
      'In another terminal:  ./bin/insitu status   |   ./bin/insitu demo   |   ./bin/insitu ask "your question"',
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        io.err("\nForce-stopping (SIGKILL)…\n");
        void Promise.all([...stack!.services.keys()].map((name) => stack!.kill(name, "SIGKILL"))).finally(
          () => resolve(ExitCode.interrupted),
        );
        return;
      }
      stopping = true;
      io.out(`\n${signal}: stopping services (Ctrl-C again to force)…\n`);
      void stack!
        .stop()
        .then(() => removeStackState(root))
        .then(() => {
          io.out("Stopped.\n");
          resolve(ExitCode.ok);
        });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // A closed terminal: stop in order as for Ctrl-C (nats-server's watchdog covers a kill -9).
    process.on("SIGHUP", stop);
  });
}

/** A path relative to the cwd when it is inside it, else absolute. */
function displayPath(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown && !shown.startsWith("..") ? shown : path;
}

/** nats-server's start-up banner is long; `up` keeps warnings, errors and where it listens. */
export function isNotableNatsLine(line: string): boolean {
  return /\[(WRN|ERR|FTL)\]|Server is ready|Listening for client connections|Store Directory/.test(line);
}

/** The line that says why a service died (its InsituError message), else its last words. */
export function failureReason(error: { message: string; details: Record<string, unknown> }): string {
  const lines = Array.isArray(error.details.lastLines)
    ? (error.details.lastLines as unknown[]).map(String)
    : [];
  const thrown = lines.map((line) => /(?:InsituError|Error): (.+)$/.exec(line)?.[1]).find(Boolean);
  if (thrown) return thrown;
  const fromJson = lines
    .map((line) => {
      try {
        const parsed = JSON.parse(line) as { level?: string; msg?: string; error?: { message?: string } };
        return parsed.level === "error"
          ? `${parsed.msg ?? ""}${parsed.error?.message ? `: ${parsed.error.message}` : ""}`
          : undefined;
      } catch {
        return undefined;
      }
    })
    .filter(Boolean)
    .pop();
  return fromJson ?? lines.filter((line) => line.trim()).pop() ?? error.message;
}

/**
 * File-based service discovery for a local Prometheus (infra/prometheus/prometheus.yml reads it):
 * every service's /metrics, labelled with its role.
 */
async function writePrometheusTargets(root: string, stack: Stack): Promise<void> {
  const targets = [...stack.services.values()].map((service) => ({
    targets: [`127.0.0.1:${service.port}`],
    labels: { role: service.name },
  }));
  await mkdir(join(dataDir(root), "prometheus"), { recursive: true });
  await writeFile(join(dataDir(root), "prometheus", "targets.json"), `${JSON.stringify(targets, null, 2)}\n`);
}

/** `port` when free, otherwise a free one (said out loud). */
async function preferPort(port: number, what: string, io: CliIo): Promise<number> {
  if (!(await isPortInUse(port))) return port;
  const other = await freePort();
  io.err(`Port ${port} is taken; ${what} uses ${other} instead.\n`);
  return other;
}

/** `executor=3,sandbox=2` → `{ executor: 3, sandbox: 2 }`; a message when malformed. */
export function parseReplicas(value: unknown): Record<string, number> | undefined | string {
  if (value === undefined) return undefined;
  const result: Record<string, number> = {};
  for (const part of String(value)
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)) {
    const match = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(part);
    const count = match ? Number(match[2]) : Number.NaN;
    if (!match || count < 1 || count > 16) {
      return `--replicas expects service=count pairs (count 1–16), e.g. executor=3,sandbox=2; got "${part}"`;
    }
    result[match[1]!] = count;
  }
  return result;
}
