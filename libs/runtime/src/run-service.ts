import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { type Bus, type BusOptions, connectBus } from "@insitu/bus";
import { parseConfig } from "@insitu/config";
import { ErrorCode, InsituError } from "@insitu/errors";
import {
  createLogger,
  createMetricsRegistry,
  initTracing,
  type Logger,
  MetricName,
  readRoleModels,
} from "@insitu/telemetry";
import { Gauge, type Registry } from "prom-client";
import { z } from "zod";

/** Settings every service reads from its environment. */
export const BaseConfigSchema = z.object({
  /** NATS server URL(s). */
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  /** Subject prefix; lets several stacks (or tests) share one NATS. */
  NATS_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/)
    .default("insitu"),
  /** This service's bus user and password (docs/adr/0120); also taken from NATS_URL's userinfo. */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().optional(),
  /** Or a file holding it (a mounted compose/Kubernetes secret); NATS_PASSWORD wins when both are set. */
  NATS_PASSWORD_FILE: z.string().min(1).optional(),
  /** Port of /healthz, /readyz and /metrics; 0 picks a free one. */
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Host the HTTP port binds to. */
  HTTP_HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** How long SIGTERM waits for in-flight work before exiting anyway. */
  DRAIN_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** When set (by the process stack), the service shuts down once this process is gone. */
  INSITU_PARENT_PID: z.coerce.number().int().positive().optional(),
});
export type BaseConfig = z.infer<typeof BaseConfigSchema>;

export interface ServiceContext<Config> {
  config: BaseConfig & Config;
  bus: Bus;
  logger: Logger;
  metrics: Registry;
}

export interface StartedService {
  /** Extra readiness condition (the bus being healthy is always checked). */
  ready?: () => boolean | Promise<boolean>;
  /** Stops taking new work and finishes in-flight work; called on SIGTERM before the bus drains. */
  stop?: () => Promise<void>;
  /** Extra HTTP routes (the gateway's API); return false to fall through to 404. */
  http?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
}

export interface ServiceSpec<Schema extends z.ZodObject> {
  name: string;
  version?: string;
  /** The service's own settings; merged with {@link BaseConfigSchema}. */
  config?: Schema;
  start(context: ServiceContext<z.infer<Schema>>): Promise<StartedService | undefined>;
}

export interface RunningService<Config> extends ServiceContext<Config> {
  /** Base URL of the health/metrics server. */
  httpUrl: string;
  /** Stops as SIGTERM would, without exiting the process. */
  shutdown(): Promise<void>;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Install SIGTERM/SIGINT handlers that shut down and exit (default true). */
  handleSignals?: boolean;
  /** Overrides for tests (e.g. a different bus). */
  connect?: (options: BusOptions) => Promise<Bus>;
}

/**
 * Runs one insitu service: config parsed once, JSON logs, a bus connection (retried until NATS
 * answers), /healthz /readyz /metrics, and a SIGTERM drain that lets in-flight work finish and ack.
 */
export async function runService<Schema extends z.ZodObject>(
  spec: ServiceSpec<Schema>,
  options: RunOptions = {},
): Promise<RunningService<z.infer<Schema>>> {
  const schema = spec.config ? BaseConfigSchema.extend(spec.config.shape) : BaseConfigSchema;
  const config = parseConfig(schema, options.env ?? process.env) as BaseConfig & z.infer<Schema>;
  const logger = createLogger({ service: spec.name, level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry(spec.name);
  // OTLP traces only when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/adr/0083); never throws.
  const tracing = initTracing({
    serviceName: spec.name,
    env: options.env ?? process.env,
    onError: (error) => logger.warn("trace export failed; spans dropped", { error: String(error) }),
  });
  const readyGauge = new Gauge({
    name: MetricName.serviceReady,
    help: "1 when the service is ready to take work, else 0.",
    registers: [metrics],
  });

  const connect = options.connect ?? connectBus;
  const natsPassword =
    config.NATS_PASSWORD ??
    (config.NATS_PASSWORD_FILE === undefined ? undefined : await readSecretFile(config.NATS_PASSWORD_FILE));
  const bus = await connectWithRetry(
    () =>
      connect({
        url: config.NATS_URL,
        prefix: config.NATS_PREFIX,
        name: spec.name,
        logger,
        metrics,
        ...(config.NATS_USER === undefined ? {} : { user: config.NATS_USER, password: natsPassword ?? "" }),
      }),
    logger,
  );
  // Undefined until start() resolves: the HTTP server is up before the service's endpoints are,
  // and /readyz must not say ready in between.
  let started: StartedService | undefined;
  let stopping = false;

  const server = createServer((request, response) => {
    void route(request, response).catch((error: unknown) => {
      logger.error("http handler failed", { error });
      if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: InsituError.from(error).toJSON() }));
    });
  });
  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/healthz") return json(response, 200, { status: "ok", service: spec.name });
    if (path === "/readyz") {
      const health = await bus.health();
      const ready =
        started !== undefined &&
        !stopping &&
        health.connected &&
        health.jetstream &&
        ((await started.ready?.()) ?? true);
      readyGauge.set(ready ? 1 : 0);
      return json(response, ready ? 200 : 503, { ready, service: spec.name, bus: health, stopping });
    }
    if (path === "/metrics") {
      response.writeHead(200, { "content-type": metrics.contentType });
      response.end(await metrics.metrics());
      return;
    }
    if (started?.http && (await started.http(request, response))) return;
    json(response, 404, { error: { code: "NOT_FOUND", message: `no route ${request.method} ${path}` } });
  };
  await listen(server, config.HTTP_PORT, config.HTTP_HOST);
  const address = server.address() as AddressInfo;
  const httpUrl = `http://${config.HTTP_HOST}:${address.port}`;

  started = (await spec.start({ config, bus, logger, metrics })) ?? {};
  // Every service is listed in $SRV (also those serving no endpoint), with the model of each
  // role it runs, so `insitu status` and `insitu ask` see what the running stack has.
  await bus.announce({
    name: spec.name,
    version: spec.version ?? "0.1.0",
    metadata: Object.fromEntries(
      (await readRoleModels(metrics)).map((entry) => [
        `model.${entry.role}`,
        entry.configured ? `${entry.provider}/${entry.model}` : "none",
      ]),
    ),
  });
  readyGauge.set(1);
  logger.info("service started", {
    version: spec.version ?? "0.1.0",
    http: httpUrl,
    prefix: config.NATS_PREFIX,
  });

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      stopping = true;
      readyGauge.set(0);
      logger.info("draining");
      const drained = (async () => {
        await started?.stop?.();
        await bus.drain();
      })();
      const timer = new Promise<"timeout">((resolve) =>
        setTimeout(() => resolve("timeout"), config.DRAIN_TIMEOUT_MS).unref(),
      );
      if ((await Promise.race([drained, timer])) === "timeout")
        logger.warn("drain timed out; exiting anyway");
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tracing.shutdown();
      logger.info("stopped");
    })();
    return shutdownPromise;
  };

  if (options.handleSignals ?? true) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        void shutdown().then(() => process.exit(0));
      });
    }
  }
  if (config.INSITU_PARENT_PID !== undefined) watchParent(config.INSITU_PARENT_PID, logger, shutdown);
  return { config, bus, logger, metrics, httpUrl, shutdown };
}

/** Node has no parent-death signal; poll the parent's pid and drain when it has gone. */
function watchParent(pid: number, logger: Logger, shutdown: () => Promise<void>): void {
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") return; // EPERM: alive, not ours
      clearInterval(timer);
      logger.warn("parent process is gone; shutting down", { parentPid: pid });
      void shutdown().then(() => process.exit(0));
    }
  }, 1000);
  timer.unref();
}

async function readSecretFile(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    throw new InsituError(`cannot read NATS_PASSWORD_FILE ${path}: ${(error as Error).message}`, {
      code: ErrorCode.invalidConfig,
      category: "user",
      details: { NATS_PASSWORD_FILE: path },
      cause: error,
    });
  }
}

async function connectWithRetry(connect: () => Promise<Bus>, logger: Logger): Promise<Bus> {
  let delay = 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      // Wrong credentials stay wrong: fail at once with the clear message.
      if (attempt >= 50 || InsituError.from(error).code === ErrorCode.busUnauthorized) throw error;
      logger.warn("NATS not reachable yet; retrying", {
        attempt,
        delayMs: delay,
        error: InsituError.from(error).message,
      });
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
