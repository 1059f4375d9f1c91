import { randomBytes } from "node:crypto";
import {
  type BusCredentials,
  busUsers,
  generateBusCredentials,
  type NatsServerHandle,
  startNatsServer,
} from "@insitu/bus";
import { BUS_ROLES } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { discoverServices, type ServiceEntry } from "./discover.js";
import { formatLogLine } from "./log-format.js";
import { freePort } from "./ports.js";
import { findRepoRoot } from "./repo-root.js";
import { ServiceProcess } from "./service-process.js";
import { type StackSigningKeys, generateStackKeys, signingEnv } from "./signing-keys.js";

/**
 * The local process stack, shared by `insitu up` and the e2e tests: a nats-server (unless
 * `natsUrl` points elsewhere) and every service that exists, each its own process with labelled
 * logs, each waited on through its `/readyz`.
 */
export interface StackOptions {
  /** Repo root; found from this file when omitted. */
  root?: string;
  /** Which services to start (default: every `services/*\/src/main.ts`). */
  services?: readonly string[];
  /** Use this NATS instead of starting one (also `NATS_URL`). */
  natsUrl?: string;
  /** Monitor endpoint of an external NATS (also `NATS_MONITOR_URL`). */
  natsMonitorUrl?: string;
  /** JetStream data dir for the started nats-server; a temp dir (removed on stop) when omitted. */
  natsDataDir?: string;
  natsPort?: number;
  natsMonitorPort?: number;
  /** Subject prefix every service uses (`NATS_PREFIX`); random per stack when omitted. */
  prefix?: string;
  /** Fixed HTTP ports per service; others get free ports. */
  ports?: Readonly<Record<string, number>>;
  /** Extra env for every service (on top of this process's env). */
  env?: Readonly<Record<string, string>>;
  /** Extra env per service, e.g. `{ manager: { INSITU_SCRIPT: "…" } }`. */
  serviceEnv?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Receives every line; default: labelled lines on stdout. */
  onLog?: (service: string, line: string) => void;
  /** Called when a service exits without being asked to. */
  onUnexpectedExit?: (service: string, code: number | null, signal: NodeJS.Signals | null) => void;
  readyTimeoutMs?: number;
  /** Aborting while starting stops whatever was started and rejects with INTERRUPTED. */
  signal?: AbortSignal;
  /**
   * Keep going when a service fails to become ready (it is listed in `failed`); `insitu up` uses
   * this so NATS and the services that can start stay up while one role lacks, say, a model.
   */
  allowFailures?: boolean;
  /**
   * Bus users of the started nats-server (docs/adr/0120): auth is always on for a server the
   * stack starts, each service connects as its own role. Generated per stack when omitted;
   * `insitu up` passes the ones kept in `<data dir>/bus-credentials.json`.
   */
  busCredentials?: BusCredentials;
  /** SIGTERM → SIGKILL grace on stop. */
  graceMs?: number;
  /**
   * Processes per service (default 1), e.g. `{ executor: 3 }`: the extra ones are named
   * `executor-2`, `executor-3` and share the role's queue group and durable work queue.
   */
  replicas?: Readonly<Record<string, number>>;
  /**
   * The signing keys of the sandbox, executor and gateway (ADR 0125); a fresh set per run when
   * omitted (`insitu up` passes the set it keeps in its data dir). `env` / `serviceEnv` still win.
   */
  signingKeys?: StackSigningKeys;
}

export interface StackService {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  readonly running: boolean;
}

export interface Stack {
  readonly root: string;
  /** The NATS URL; for a started server it carries the admin's credentials (never print it: redactUrl). */
  readonly natsUrl: string;
  readonly natsMonitorUrl: string | undefined;
  /** True when this stack started (and will stop) the nats-server. */
  readonly ownsNats: boolean;
  readonly prefix: string;
  readonly services: ReadonlyMap<string, StackService>;
  /** `http://127.0.0.1:<port>` of a service. */
  url(service: string): string;
  /** Signals a service (default SIGKILL) and waits for it to exit. */
  kill(service: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped or killed service again on the same port and waits until it is ready. */
  restart(service: string): Promise<void>;
  /** Recent output of a service. */
  logs(service: string): readonly string[];
  /** Services that did not become ready (only with `allowFailures`). */
  readonly failed: readonly { name: string; error: InsituError }[];
  /** The nats-server this stack started (undefined for an external NATS). */
  readonly nats: NatsServerHandle | undefined;
  /** The signing keys the services run with. */
  readonly signingKeys: StackSigningKeys;
  /** Stops every service (SIGTERM, SIGKILL after the grace), then the nats-server. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_GRACE_MS = 10_000;

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const root = options.root ?? findRepoRoot();
  const available = discoverServices(root);
  const wanted = withReplicas(selectServices(available, options.services), options.replicas);
  const prefix = options.prefix ?? `insitu-${randomBytes(4).toString("hex")}`;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const labelWidth = Math.max(5, ...wanted.map((entry) => entry.name.length));
  const color = process.stdout.isTTY === true;
  const onLog =
    options.onLog ??
    ((service: string, line: string) =>
      process.stdout.write(`${formatLogLine(service, line, { labelWidth, color })}\n`));

  if (options.signal?.aborted) throw interrupted();
  const externalNats = options.natsUrl ?? process.env.NATS_URL;
  let nats: NatsServerHandle | undefined;
  const credentials = externalNats ? undefined : (options.busCredentials ?? generateBusCredentials());
  if (!externalNats) {
    nats = await startNatsServer({
      auth: { users: busUsers(credentials!, prefix) },
      ...(options.natsDataDir === undefined ? {} : { dataDir: options.natsDataDir }),
      ...(options.natsPort === undefined ? {} : { port: options.natsPort }),
      ...(options.natsMonitorPort === undefined ? {} : { monitorPort: options.natsMonitorPort }),
      onLog: (line) => onLog("nats", line),
    });
  }
  const natsUrl = externalNats ?? nats!.url;
  const natsMonitorUrl = nats?.monitorUrl ?? options.natsMonitorUrl ?? process.env.NATS_MONITOR_URL;

  const signingKeys = options.signingKeys ?? generateStackKeys();
  const keyEnv = signingEnv(signingKeys);
  const tsxLoader = import.meta.resolve("tsx");
  const processes = new Map<string, ServiceProcess>();
  const failed: { name: string; error: InsituError }[] = [];
  try {
    for (const entry of wanted) {
      const port = options.ports?.[entry.name] ?? (await freePort());
      const role = entry.service ?? entry.name;
      // Each service connects as its own role, never with credentials inherited from this process.
      const { NATS_USER: _user, NATS_PASSWORD: _password, ...inherited } = process.env;
      const busAuth: Record<string, string> = {};
      if (credentials) {
        if (!(BUS_ROLES as readonly string[]).includes(role)) {
          throw new InsituError(`service ${role} has no bus role (libs/contracts/src/grants.ts)`, {
            code: "UNKNOWN_BUS_ROLE",
            category: "user",
            details: { service: role, roles: [...BUS_ROLES] },
          });
        }
        busAuth.NATS_USER = role;
        busAuth.NATS_PASSWORD = credentials[role]!;
      } else {
        if (_user !== undefined) busAuth.NATS_USER = _user;
        if (_password !== undefined) busAuth.NATS_PASSWORD = _password;
      }
      const env: NodeJS.ProcessEnv = {
        ...inherited,
        ...keyEnv.common,
        ...options.env,
        ...busAuth,
        NATS_URL: nats ? nats.plainUrl : natsUrl,
        NATS_PREFIX: prefix,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: String(port),
        SERVICE_NAME: entry.service ?? entry.name,
        ...keyEnv.services[entry.service ?? entry.name],
        ...options.serviceEnv?.[entry.service ?? entry.name],
      };
      // The stack passes NATS_URL explicitly; the monitor URL only when it is known.
      if (natsMonitorUrl) env.NATS_MONITOR_URL = natsMonitorUrl;
      const service = new ServiceProcess({
        name: entry.name,
        ...(entry.service ? { service: entry.service } : {}),
        main: entry.main,
        cwd: root,
        port,
        env,
        tsxLoader,
        onLine: (line) => onLog(entry.name, line),
        onExit: (code, signal, expected) => {
          if (expected) return;
          onLog(
            "stack",
            `${entry.name} exited unexpectedly (code ${code ?? "none"}, signal ${signal ?? "none"})`,
          );
          options.onUnexpectedExit?.(entry.name, code, signal);
        },
      });
      processes.set(entry.name, service);
    }
    for (const service of processes.values()) service.start();
    const results = await Promise.allSettled(
      [...processes.values()].map((service) => service.waitReady(readyTimeoutMs, options.signal)),
    );
    const names = [...processes.keys()];
    results.forEach((result, index) => {
      if (result.status === "rejected")
        failed.push({ name: names[index]!, error: InsituError.from(result.reason) });
    });
    if (options.signal?.aborted) throw interrupted();
    if (failed.length > 0 && !options.allowFailures) throw failed[0]!.error;
    for (const { name } of failed) await processes.get(name)?.stop(1000);
  } catch (error) {
    await Promise.all([...processes.values()].map((service) => service.stop(1000)));
    await nats?.dispose();
    throw error;
  }

  const get = (name: string): ServiceProcess => {
    const service = processes.get(name);
    if (!service) {
      throw new InsituError(`no service ${name} in this stack`, {
        code: "UNKNOWN_SERVICE",
        category: "user",
        details: { service: name, known: [...processes.keys()] },
      });
    }
    return service;
  };

  let stopped: Promise<void> | undefined;
  return {
    root,
    natsUrl,
    natsMonitorUrl,
    ownsNats: nats !== undefined,
    prefix,
    failed,
    services: processes,
    nats,
    signingKeys,
    url: (name) => get(name).url,
    kill: (name, signal = "SIGKILL") => get(name).kill(signal),
    async restart(name) {
      const service = get(name);
      await service.stop(graceMs);
      service.start();
      await service.waitReady(readyTimeoutMs);
    },
    logs: (name) => get(name).recentLines,
    stop() {
      stopped ??= (async () => {
        // Reverse start order: the gateway stops taking requests before the roles behind it go.
        const ordered = [...processes.values()].reverse();
        await Promise.all(ordered.map((service) => service.stop(graceMs)));
        if (nats) {
          // A data dir the caller chose is kept (it is the project's JetStream state).
          if (options.natsDataDir === undefined) await nats.dispose();
          else await nats.stop();
        }
      })();
      return stopped;
    },
  };
}

function interrupted(): InsituError {
  return new InsituError("interrupted while the stack was starting", {
    code: "INTERRUPTED",
    category: "user",
  });
}

function selectServices(available: ServiceEntry[], wanted: readonly string[] | undefined): ServiceEntry[] {
  if (!wanted) return available;
  const byName = new Map(available.map((entry) => [entry.name, entry]));
  const missing = wanted.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new InsituError(`no such service: ${missing.join(", ")}`, {
      code: "UNKNOWN_SERVICE",
      category: "user",
      details: { missing, available: available.map((entry) => entry.name) },
    });
  }
  return available.filter((entry) => wanted.includes(entry.name));
}

/** One entry per process: `executor`, then `executor-2` … for a service with replicas. */
function withReplicas(
  entries: ServiceEntry[],
  replicas: Readonly<Record<string, number>> | undefined,
): (ServiceEntry & { service?: string })[] {
  if (!replicas) return entries;
  const known = new Set(entries.map((entry) => entry.name));
  for (const [name, count] of Object.entries(replicas)) {
    if (!known.has(name) || !Number.isInteger(count) || count < 1 || count > 16) {
      throw new InsituError(`bad replica count for ${name}: ${count} (a started service, 1–16)`, {
        code: "BAD_REPLICAS",
        category: "user",
        details: { service: name, count, services: [...known] },
      });
    }
  }
  return entries.flatMap((entry) => [
    entry,
    ...Array.from({ length: (replicas[entry.name] ?? 1) - 1 }, (_, index) => ({
      ...entry,
      name: `${entry.name}-${index + 2}`,
      service: entry.name,
    })),
  ]);
}
