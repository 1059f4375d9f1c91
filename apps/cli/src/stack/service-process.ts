import { type ChildProcess, spawn } from "node:child_process";
import { InsituError } from "@insitu/errors";
import { splitLines } from "./log-format.js";

/** How a service process is launched: `node --import <tsx> <main.ts>` with its own env. */
export interface ServiceLaunch {
  name: string;
  /** The service this process runs, when `name` labels one of several replicas (`executor-2`). */
  service?: string;
  main: string;
  cwd: string;
  port: number;
  env: NodeJS.ProcessEnv;
  /** URL of tsx's loader (resolved once by the stack so any cwd works). */
  tsxLoader: string;
  onLine: (line: string, stream: "stdout" | "stderr") => void;
  onExit?: (code: number | null, signal: NodeJS.Signals | null, expected: boolean) => void;
}

const KEEP_LINES = 200;

/**
 * One service as its own OS process. The child leads its own process group, so a signal reaches
 * anything it spawned (e.g. the sandbox's Deno processes) and Ctrl-C on the terminal reaches only
 * the CLI, which then shuts the stack down in order.
 */
export class ServiceProcess {
  readonly name: string;
  readonly port: number;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly recent: string[] = [];

  constructor(private readonly launch: ServiceLaunch) {
    this.name = launch.name;
    this.port = launch.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The last lines the service wrote (for error messages). */
  get recentLines(): readonly string[] {
    return this.recent;
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    const { launch } = this;
    const child = spawn(process.execPath, ["--import", launch.tsxLoader, launch.main], {
      cwd: launch.cwd,
      // The runtime exits when this pid is gone, so a stack whose owner is SIGKILLed (a test
      // runner timing out, a closed terminal) leaves no service behind.
      env: { ...launch.env, INSITU_PARENT_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.child = child;
    for (const stream of ["stdout", "stderr"] as const) {
      let pending = "";
      child[stream]?.setEncoding("utf8").on("data", (chunk: string) => {
        const { lines, rest } = splitLines(pending, chunk);
        pending = rest;
        for (const line of lines) this.emit(line, stream);
      });
      child[stream]?.on("end", () => {
        if (pending) this.emit(pending, stream);
        pending = "";
      });
    }
    this.exitPromise = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        launch.onExit?.(code, signal, this.stopping);
        resolve();
      });
      child.once("error", (error) => {
        this.emit(`failed to spawn: ${error.message}`, "stderr");
        resolve();
      });
    });
  }

  private emit(line: string, stream: "stdout" | "stderr"): void {
    this.recent.push(line);
    if (this.recent.length > KEEP_LINES) this.recent.splice(0, this.recent.length - KEEP_LINES);
    this.launch.onLine(line, stream);
  }

  /** Sends `signal` to the service's process group and resolves once it has exited. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child || !this.running || child.pid === undefined) return;
    this.stopping = true;
    signalGroup(child.pid, signal);
    await this.exitPromise;
    // A SIGKILLed leader leaves its children behind; reap the group.
    signalGroup(child.pid, "SIGKILL");
  }

  /** SIGTERM (the service drains), then SIGKILL once `graceMs` has passed. */
  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running || child.pid === undefined) return;
    this.stopping = true;
    const pid = child.pid;
    signalGroup(pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
    signalGroup(pid, "SIGKILL");
  }

  /**
   * Waits until the service has finished starting and `/readyz` answers 200; fails early with the
   * service's last lines if it dies.
   *
   * "Finished starting" is read from the runtime's `insitu_service_ready` gauge on `/metrics`, which
   * runService sets to 1 only after the service's `start()` resolved: `/readyz` alone can answer 200
   * while `start()` is still running (before the service's endpoints are served), because it only
   * checks the bus. Polling `/readyz` would also set that gauge, so the gauge is read first. A
   * service without the gauge is judged by `/readyz` alone.
   */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastStatus = "no answer";
    while (Date.now() < deadline) {
      if (signal?.aborted) {
        throw new InsituError(`stopped waiting for ${this.name}: interrupted`, {
          code: "INTERRUPTED",
          category: "user",
        });
      }
      if (!this.running) {
        throw new InsituError(`${this.name} exited before it was ready`, {
          code: "SERVICE_START_FAILED",
          details: {
            service: this.name,
            exitCode: this.child?.exitCode ?? null,
            lastLines: this.recent.slice(-15),
          },
        });
      }
      try {
        const started = await this.startedGauge();
        if (started === false) {
          lastStatus = "still starting (insitu_service_ready 0)";
        } else {
          const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
          const body = (await response.json().catch(() => ({}))) as { service?: unknown };
          // Another process answering on this port (a port picked twice, a leftover) is not us.
          if (typeof body.service === "string" && body.service !== (this.launch.service ?? this.name)) {
            lastStatus = `port ${this.url} is answered by ${body.service}`;
          } else if (response.ok) {
            return;
          } else {
            lastStatus = `/readyz HTTP ${response.status}`;
          }
        }
      } catch {
        lastStatus = "no answer";
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new InsituError(`${this.name} was not ready within ${timeoutMs} ms (${lastStatus})`, {
      code: "SERVICE_START_FAILED",
      retryable: true,
      details: { service: this.name, lastLines: this.recent.slice(-15) },
    });
  }

  /** The runtime's readiness gauge: true / false, or undefined when the service has none. */
  private async startedGauge(): Promise<boolean | undefined> {
    const response = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(1000) });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const match = /^insitu_service_ready(?:\{[^}]*\})?\s+(\S+)\s*$/m.exec(await response.text());
    return match ? Number(match[1]) === 1 : undefined;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
