import { natsConnectOptions, redactUrl } from "@insitu/bus";
import { Svcm } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";

/** What `insitu status` reports. */
export interface StatusReport {
  nats: {
    url: string;
    monitorUrl: string;
    /** The monitor's /healthz said ok (JetStream included). */
    healthy: boolean;
    reachable: boolean;
    version?: string;
    connections?: number;
    error?: string;
  };
  jetstream: {
    enabled: boolean;
    streams?: number;
    consumers?: number;
    messages?: number;
    bytes?: number;
    storeDir?: string;
    error?: string;
  };
  prefix: string;
  /** Service instances that answered `$SRV.INFO` / `$SRV.STATS`. */
  services: DiscoveredService[];
  /** Services this checkout has that no instance answered for (not running, or not yet ready). */
  missing: string[];
  /**
   * The model each role runs on, as the running services report it (`model.<role>` in their
   * status endpoint's metadata): `provider/model`, or null when the role has none configured.
   */
  models: { role: string; model: string | null; services: string[] }[];
  /** Processes of the `insitu up` stack and their /readyz (when that stack is running). */
  processes: { name: string; port: number; ready: boolean }[];
  discoveryError?: string;
  /** The library's convergence figures, from the gateway when one is known. */
  library?: {
    librarySize: number;
    toolCalls: number;
    egl: number | null;
    reuseRate: number | null;
    successRate: number | null;
    snapshot?: number;
  };
}

export interface DiscoveredService {
  name: string;
  id: string;
  version: string;
  prefix?: string;
  endpoints: { name: string; subject: string; requests: number; errors: number; averageMs: number }[];
  started?: string;
  /** `model.<role>` → `provider/model` or `none`, from the instance's `status` endpoint. */
  models?: Record<string, string>;
}

/** What to do when a role has no model: the services' environment is what counts. */
export const NO_MODEL_HINT =
  "set GEMINI_API_KEY (or INSITU_OPENAI_BASE_URL + INSITU_OPENAI_MODEL) in the terminal that runs `insitu up` and restart it, or describe the roles in insitu.models.json";

/** The roles' models across the instances found; a role some instance runs without a model is null. */
export function rolesModels(services: readonly DiscoveredService[]): StatusReport["models"] {
  const byRole = new Map<string, { models: Set<string>; services: Set<string> }>();
  for (const service of services) {
    for (const [role, model] of Object.entries(service.models ?? {})) {
      const entry = byRole.get(role) ?? { models: new Set(), services: new Set() };
      entry.models.add(model);
      entry.services.add(service.name);
      byRole.set(role, entry);
    }
  }
  return [...byRole.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([role, entry]) => ({
      role,
      model: entry.models.has("none") ? null : [...entry.models].join(", "),
      services: [...entry.services].sort(),
    }));
}

export async function collectStatus(options: {
  natsUrl: string;
  monitorUrl: string;
  prefix: string;
  all: boolean;
  waitMs: number;
  processes?: { name: string; port: number }[];
  gatewayUrl?: string;
  /** Services this checkout has (`services/*`): those not found are listed as missing. */
  expected?: readonly string[];
}): Promise<StatusReport> {
  const [nats, jetstream, discovery, processes, library] = await Promise.all([
    natsHealth(options.natsUrl, options.monitorUrl),
    jetstreamHealth(options.monitorUrl),
    discoverServices(options.natsUrl, options.waitMs),
    Promise.all(
      (options.processes ?? []).map(async (entry) => ({ ...entry, ready: await isReady(entry.port) })),
    ),
    options.gatewayUrl ? librarySummary(options.gatewayUrl) : Promise.resolve(undefined),
  ]);
  const services = discovery.services
    .filter((service) => options.all || service.prefix === undefined || service.prefix === options.prefix)
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const found = new Set(services.map((service) => service.name));
  return {
    nats,
    jetstream,
    prefix: options.prefix,
    services,
    missing: (options.expected ?? []).filter((name) => !found.has(name)),
    models: rolesModels(services),
    processes,
    ...(discovery.error ? { discoveryError: discovery.error } : {}),
    ...(library ? { library } : {}),
  };
}

async function librarySummary(gatewayUrl: string): Promise<StatusReport["library"]> {
  try {
    const token = process.env.INSITU_GATEWAY_TOKEN;
    const { ok, body } = await getJson(
      `${gatewayUrl.replace(/\/$/, "")}/v1/metrics/summary`,
      token ? { authorization: `Bearer ${token}` } : {},
    );
    if (!ok || typeof body.librarySize !== "number" || typeof body.toolCalls !== "number") return undefined;
    const rate = (value: unknown): number | null => (typeof value === "number" ? value : null);
    return {
      librarySize: body.librarySize,
      toolCalls: body.toolCalls,
      egl: rate(body.egl),
      reuseRate: rate(body.reuseRate),
      successRate: rate(body.successRate),
      ...(typeof body.snapshot === "number" ? { snapshot: body.snapshot } : {}),
    };
  } catch {
    return undefined;
  }
}

async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ok: boolean; status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object") body = parsed as Record<string, unknown>;
  } catch {
    // not JSON: keep an empty body
  }
  return { ok: response.ok, status: response.status, body };
}

async function natsHealth(url: string, monitorUrl: string): Promise<StatusReport["nats"]> {
  try {
    const [health, varz] = await Promise.all([
      getJson(`${monitorUrl}/healthz?js-enabled-only=true`),
      getJson(`${monitorUrl}/varz`).catch(() => undefined),
    ]);
    return {
      url: redactUrl(url),
      monitorUrl,
      reachable: true,
      healthy: health.ok && health.body.status === "ok",
      ...(typeof varz?.body.version === "string" ? { version: varz.body.version } : {}),
      ...(typeof varz?.body.connections === "number" ? { connections: varz.body.connections } : {}),
      ...(health.ok ? {} : { error: String(health.body.error ?? `HTTP ${health.status}`) }),
    };
  } catch (error) {
    return {
      url: redactUrl(url),
      monitorUrl,
      reachable: false,
      healthy: false,
      error: `monitor unreachable: ${(error as Error).message}`,
    };
  }
}

async function jetstreamHealth(monitorUrl: string): Promise<StatusReport["jetstream"]> {
  try {
    const jsz = await getJson(`${monitorUrl}/jsz`);
    const config = (jsz.body.config ?? {}) as Record<string, unknown>;
    const disabled = jsz.body.disabled === true || !jsz.ok;
    const num = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined);
    const result: StatusReport["jetstream"] = { enabled: !disabled };
    const fields = {
      streams: num(jsz.body.streams),
      consumers: num(jsz.body.consumers),
      messages: num(jsz.body.messages),
      bytes: num(jsz.body.bytes),
    };
    for (const [key, value] of Object.entries(fields))
      if (value !== undefined) (result as Record<string, unknown>)[key] = value;
    if (typeof config.store_dir === "string") result.storeDir = config.store_dir;
    return result;
  } catch (error) {
    return { enabled: false, error: (error as Error).message };
  }
}

/**
 * The models of the roles a question needs, as the running stack reports them through $SRV;
 * undefined when NATS cannot be reached or no such role answered (then nothing is known).
 */
export async function reportedModels(
  natsUrl: string,
  prefix: string,
  waitMs = 500,
): Promise<StatusReport["models"] | undefined> {
  const { services } = await discoverServices(natsUrl, waitMs);
  const models = rolesModels(
    services.filter((service) => service.prefix === undefined || service.prefix === prefix),
  ).filter((entry) => QUESTION_ROLES.includes(entry.role));
  return models.length > 0 ? models : undefined;
}

/** The roles every question goes through (the evolver works in the background). */
export const QUESTION_ROLES: readonly string[] = ["manager", "tool-developer", "executor", "integrator"];

async function discoverServices(
  natsUrl: string,
  waitMs: number,
): Promise<{ services: DiscoveredService[]; error?: string }> {
  let connection: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    connection = await connect({
      ...natsConnectOptions(natsUrl),
      name: "insitu-cli-status",
      timeout: 2000,
      maxReconnectAttempts: 0,
    });
    const client = new Svcm(connection).client({ strategy: "timer", maxWait: waitMs });
    const [infos, stats] = await Promise.all([collect(client.info()), collect(client.stats())]);
    const statsById = new Map(stats.map((entry) => [entry.id, entry]));
    const services = infos.map((info): DiscoveredService => {
      const stat = statsById.get(info.id);
      const prefix = info.metadata?.prefix;
      const status = (info.endpoints ?? []).find((endpoint) => endpoint.name === "status");
      const models = Object.fromEntries(
        Object.entries(status?.metadata ?? {})
          .filter(([key]) => key.startsWith("model."))
          .map(([key, value]) => [key.slice("model.".length), String(value)]),
      );
      return {
        name: info.name,
        id: info.id,
        version: info.version,
        ...(prefix === undefined ? {} : { prefix }),
        ...(stat?.started ? { started: stat.started } : {}),
        ...(Object.keys(models).length > 0 ? { models } : {}),
        endpoints: (info.endpoints ?? []).map((endpoint) => {
          const endpointStats = stat?.endpoints?.find((candidate) => candidate.name === endpoint.name);
          return {
            name: endpoint.name,
            subject: endpoint.subject,
            requests: endpointStats?.num_requests ?? 0,
            errors: endpointStats?.num_errors ?? 0,
            averageMs: endpointStats ? Number(endpointStats.average_processing_time) / 1e6 : 0,
          };
        }),
      };
    });
    return { services };
  } catch (error) {
    return { services: [], error: `service discovery failed: ${(error as Error).message}` };
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function collect<T>(iterator: Promise<AsyncIterable<T>>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of await iterator) items.push(item);
  return items;
}

async function isReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1500) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** The report as a terminal table. */
export function renderStatus(report: StatusReport, options: { color?: boolean } = {}): string {
  const paint = (ok: boolean, text: string): string =>
    options.color ? `\u001b[${ok ? 32 : 31}m${text}\u001b[0m` : text;
  const lines: string[] = [];
  const nats = report.nats;
  lines.push(
    `NATS       ${paint(nats.healthy, nats.healthy ? "healthy" : nats.reachable ? "UNHEALTHY" : "UNREACHABLE")}  ${nats.url}` +
      (nats.version ? `  (nats-server ${nats.version}, ${nats.connections ?? 0} connections)` : "") +
      (nats.error ? `  — ${nats.error}` : ""),
  );
  const js = report.jetstream;
  lines.push(
    `JetStream  ${paint(js.enabled, js.enabled ? "enabled" : "DISABLED")}` +
      (js.enabled
        ? `  ${js.streams ?? 0} streams, ${js.consumers ?? 0} consumers, ${js.messages ?? 0} messages, ${formatBytes(js.bytes ?? 0)}` +
          (js.storeDir ? `  (data: ${js.storeDir})` : "")
        : js.error
          ? `  — ${js.error}`
          : ""),
  );
  if (report.library) {
    const library = report.library;
    const percent = (value: number | null): string =>
      value === null ? "n/a" : `${Math.round(value * 100)}%`;
    lines.push(
      `Library    ${library.librarySize} tool${library.librarySize === 1 ? "" : "s"}` +
        (library.snapshot !== undefined ? ` (snapshot ${library.snapshot})` : "") +
        `, ${library.toolCalls} calls, EGL ${library.egl === null ? "n/a" : library.egl.toFixed(3)}, reuse ${percent(library.reuseRate)}, success ${percent(library.successRate)}`,
    );
  }
  lines.push("");
  if (report.services.length === 0) {
    lines.push(
      `Services (prefix ${report.prefix}): none found through $SRV${report.discoveryError ? ` — ${report.discoveryError}` : ""}`,
    );
  } else {
    lines.push(`Services found through $SRV (prefix ${report.prefix}):`);
    const rows = report.services.map((service) => [
      service.name,
      service.version,
      service.id.slice(0, 12),
      service.endpoints
        .map((endpoint) => endpoint.name)
        .filter((name) => name !== "status")
        .join(",") || "-",
      String(service.endpoints.reduce((sum, endpoint) => sum + endpoint.requests, 0)),
      String(service.endpoints.reduce((sum, endpoint) => sum + endpoint.errors, 0)),
    ]);
    lines.push(...table(["SERVICE", "VERSION", "INSTANCE", "ENDPOINTS", "REQUESTS", "ERRORS"], rows));
  }
  if (report.missing.length > 0) {
    lines.push(
      `  ${paint(false, "NOT FOUND")}: ${report.missing.join(", ")} (not running, or not ready yet)`,
    );
  }
  lines.push("");
  if (report.models.length === 0) {
    lines.push("Models: no running role reported one");
  } else {
    lines.push("Models per role (as the running services report them):");
    lines.push(
      ...table(
        ["ROLE", "MODEL"],
        report.models.map((entry) => [
          entry.role,
          entry.model === null ? `${paint(false, "none")} — ${NO_MODEL_HINT}` : entry.model,
        ]),
      ),
    );
  }
  if (report.processes.length > 0) {
    lines.push("", "Processes of the local stack (insitu up):");
    lines.push(
      ...table(
        ["PROCESS", "PORT", "READY"],
        report.processes.map((entry) => [
          entry.name,
          String(entry.port),
          paint(entry.ready, entry.ready ? "ready" : "NOT READY"),
        ]),
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  // Widths ignore ANSI colour codes.
  const visible = (text: string): number => text.replace(/\u001b\[[0-9;]*m/g, "").length;
  const widths = header.map((title, index) =>
    Math.max(title.length, ...rows.map((row) => visible(row[index] ?? ""))),
  );
  const format = (row: string[]): string =>
    `  ${row.map((cell, index) => cell + " ".repeat(Math.max(0, (widths[index] ?? 0) - visible(cell)))).join("  ")}`.trimEnd();
  return [format(header), ...rows.map(format)];
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
