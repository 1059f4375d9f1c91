import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_USER } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { authorizationConfig, type BusUser, generatePassword, urlWithCredentials } from "./auth.js";
import { freePort } from "./ports.js";

/**
 * Starts and stops a real nats-server (JetStream on, bound to 127.0.0.1). Used by the local stack
 * (`insitu up`) and by every integration test, which gets a random port and its own data dir.
 */
export interface NatsServerHandle {
  /**
   * Client URL. With auth on it carries the admin user's credentials (`nats://insitu-admin:…@`),
   * so whoever holds the handle (tests, `insitu up`) connects as the operator.
   */
  readonly url: string;
  /** Client URL without credentials (what a service gets, beside its own user and password). */
  readonly plainUrl: string;
  /** The users this server accepts; empty when auth is off. */
  readonly users: readonly BusUser[];
  readonly port: number;
  readonly monitorUrl: string;
  readonly dataDir: string;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). Keeps the data dir. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port and data dir: JetStream state survives. */
  restart(): Promise<void>;
  /** Stops and removes the data dir if this handle created it. */
  dispose(): Promise<void>;
}

export interface NatsServerOptions {
  /** Data dir for JetStream; a fresh temp dir when omitted (and removed on dispose). */
  dataDir?: string;
  /** Client port; random when omitted. */
  port?: number;
  /** Monitor port; random when omitted. */
  monitorPort?: number;
  /** Path of the nats-server binary. */
  binary?: string;
  /** max_payload in bytes (server default 1 MiB). */
  maxPayload?: number;
  /** Forwarded to the logger: the server's stderr lines. */
  onLog?: (line: string) => void;
  /**
   * Stop the server when this process dies, however it dies (kill -9, SIGHUP of a closed
   * terminal): a watchdog shell around it polls this process once a second. Default true.
   */
  dieWithParent?: boolean;
  /**
   * Authentication (docs/adr/0120). Default ON: only an `insitu-admin` user with a generated
   * password. Pass the stack's users (auth.ts `busUsers`) to add the roles; `false` turns it off
   * (only for a test that is about an open server).
   */
  auth?: false | { users: readonly BusUser[] };
}

/**
 * The watchdog: runs nats-server ($1, args after it) in the background, forwards TERM/INT/HUP to
 * it, and stops it when the parent ($INSITU_PARENT_PID) is gone. It waits for the server to exit,
 * so JetStream is flushed before the wrapper's own exit is seen.
 */
const WATCHDOG = `
binary="$1"; shift
"$binary" "$@" &
server=$!
stop() { kill -TERM "$server" 2>/dev/null; wait "$server"; exit $?; }
trap stop TERM INT HUP
while kill -0 "$INSITU_PARENT_PID" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1 & wait $!; done
if kill -0 "$server" 2>/dev/null; then stop; fi
wait "$server"
`;

/** Name of the pid file nats-server keeps in a data dir it was given (`-P`). */
export const NATS_PID_FILE = "nats-server.pid";

/**
 * Never two servers on one JetStream store: a server still running on this data dir (left by a
 * crashed `insitu up` before the watchdog existed, or still stopping) is stopped first.
 */
async function stopPreviousServer(dataDir: string): Promise<void> {
  const pid = Number((await readFile(join(dataDir, NATS_PID_FILE), "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!cmdline.includes("nats-server") || !cmdline.includes(dataDir)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  process.kill(pid, "SIGKILL");
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "insitu-nats-")));
  const binary = options.binary ?? process.env.NATS_SERVER_BIN ?? "nats-server";
  // Ports from below the ephemeral range (see ports.ts): a restart reuses them, and an outbound
  // connection could otherwise have taken one as its local port in the meantime.
  let port = options.port ?? (await freePort());
  let monitorPort = options.monitorPort ?? (await freePort());
  let child: ChildProcess | undefined;
  // nats-server deletes its own ports file on exit; the folder is removed after it has stopped.
  let portsDir: string | undefined;
  const users: readonly BusUser[] =
    options.auth === false
      ? []
      : (options.auth?.users ?? [{ user: ADMIN_USER, password: generatePassword() }]);
  // The passwords are in this file: a private folder, mode 0600, removed on dispose.
  let configDir: string | undefined;
  let configFile: string | undefined;
  if (users.length > 0) {
    configDir = await mkdtemp(join(tmpdir(), "insitu-nats-auth-"));
    configFile = join(configDir, "auth.conf");
    await writeFile(configFile, authorizationConfig(users), { mode: 0o600 });
  }
  const admin = users.find((user) => user.user === ADMIN_USER && user.permissions === undefined);

  const launch = async (): Promise<void> => {
    portsDir = await mkdtemp(join(tmpdir(), "insitu-nats-ports-"));
    const args = [
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "-m",
      String(monitorPort),
      "--http_port",
      String(monitorPort),
      "-js",
      "-sd",
      dataDir,
      "--ports_file_dir",
      portsDir,
    ];
    if (configFile) args.unshift("-c", configFile);
    if (options.maxPayload) args.push("--max_payload", String(options.maxPayload));
    // `-m` and `--http_port` are the same flag; pass it once.
    args.splice(args.indexOf("--http_port"), 2);
    if (!ownsDir) {
      // nats-server creates its store folder but not the one its pid file goes in: on a fresh
      // machine (`insitu up` with no .data yet) it would exit "Could not write pidfile".
      await mkdir(dataDir, { recursive: true });
      args.push("-P", join(dataDir, NATS_PID_FILE));
      await stopPreviousServer(dataDir);
    }
    if (options.dieWithParent !== false) assertRunnable(binary);
    const spawned =
      options.dieWithParent === false
        ? spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"], env: cleanEnv() })
        : spawn("/bin/sh", ["-c", WATCHDOG, "nats-watchdog", binary, ...args], {
            stdio: ["ignore", "ignore", "pipe"],
            env: { ...cleanEnv(), INSITU_PARENT_PID: String(process.pid) },
          });
    child = spawned;
    let stderr = "";
    spawned.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
      if (options.onLog) for (const line of chunk.split("\n")) if (line.trim()) options.onLog(line);
    });
    const spawnError = new Promise<never>((_, reject) => {
      spawned.once("error", (error) =>
        reject(
          new InsituError(`could not start nats-server (${binary}): ${error.message}`, {
            code: "NATS_SERVER_MISSING",
            details: { hint: "install it: apt-get install -y nats-server (or set NATS_SERVER_BIN)" },
            cause: error,
          }),
        ),
      );
    });
    const ports = await Promise.race([waitForPortsFile(portsDir, spawned, () => stderr), spawnError]);
    port = ports.client;
    monitorPort = ports.monitor;
    await waitForHealthy(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`, () => stderr);
  };

  // Two processes can pick the same free port between our check and the server's bind; with
  // ports we chose ourselves, try fresh ones a few times before giving up.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      const chosenByUs = options.port === undefined && options.monitorPort === undefined;
      if (!chosenByUs || attempt >= 3 || !/address already in use/i.test((error as Error).message)) {
        if (configDir) await rm(configDir, { recursive: true, force: true });
        throw error;
      }
      port = await freePort();
      monitorPort = await freePort();
    }
  }

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    if (portsDir) await rm(portsDir, { recursive: true, force: true });
  };

  const plainUrl = () => `nats://127.0.0.1:${port}`;
  return {
    get url() {
      return admin ? urlWithCredentials(plainUrl(), admin.user, admin.password) : plainUrl();
    },
    get plainUrl() {
      return plainUrl();
    },
    users,
    get port() {
      return port;
    },
    get monitorUrl() {
      return `http://127.0.0.1:${monitorPort}`;
    },
    dataDir,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async dispose() {
      await stop();
      if (configDir) await rm(configDir, { recursive: true, force: true });
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function cleanEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" };
}

async function waitForPortsFile(
  dir: string,
  child: ChildProcess,
  stderr: () => string,
): Promise<{ client: number; monitor: number }> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new InsituError(`nats-server exited with code ${child.exitCode}: ${stderr().trim()}`, {
        code: "NATS_SERVER_FAILED",
      });
    }
    const files = (await readdir(dir)).filter((name) => name.endsWith(".ports"));
    if (files[0]) {
      const text = await readFile(join(dir, files[0]), "utf8").catch(() => "");
      try {
        const parsed = JSON.parse(text) as { nats?: string[]; monitoring?: string[] };
        const client = Number(new URL(parsed.nats?.[0] ?? "").port);
        const monitor = Number(new URL(parsed.monitoring?.[0] ?? "").port);
        if (client > 0 && monitor > 0) return { client, monitor };
      } catch {
        // partially written; poll again
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new InsituError("nats-server did not report its ports within 15 s", { code: "NATS_SERVER_FAILED" });
}

/**
 * Waits for JetStream to answer healthy. 30 s: on a loaded 2-core machine (CI at load 15+) a fresh
 * server once took longer than 15 s. Each probe has its own timeout, so one hung probe cannot use
 * the whole allowance; a failure names the last answer and the server's last words.
 */
async function waitForHealthy(url: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
      last = `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new InsituError(`nats-server did not become healthy within 30 s (last: ${last})`, {
    code: "NATS_SERVER_FAILED",
    details: { url, stderr: stderr().slice(-2000) },
  });
}

/** The typed "missing binary" error up front: behind the watchdog shell, a spawn error is only exit 127. */
function assertRunnable(binary: string): void {
  const probe = spawnSync(binary, ["--version"], { stdio: "ignore", timeout: 5000 });
  if (probe.error && (probe.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new InsituError(`could not start nats-server (${binary}): ${probe.error.message}`, {
      code: "NATS_SERVER_MISSING",
      details: { hint: "install it: apt-get install -y nats-server (or set NATS_SERVER_BIN)" },
      cause: probe.error,
    });
  }
}
