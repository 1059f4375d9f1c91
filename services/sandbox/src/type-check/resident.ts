import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execa } from "execa";
import type { CheckedMessage, InitMessage } from "./worker.js";

const WORKER_PATH = fileURLToPath(new URL("./worker.ts", import.meta.url));
const TSX_ESM = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href;

export interface ResidentCheckerOptions {
  denoPath: string;
  denoDir: string;
  importMapPath?: string;
  /** Wall time of one check before the checker process is killed and replaced. */
  timeoutMs?: number;
  /** V8 heap cap of the checker process. */
  heapMb?: number;
}

type Diagnostics = CheckedMessage["diagnostics"];

/**
 * A type-checker that stays loaded (docs/adr/0087): one Node child process per sandbox replica
 * holds TypeScript with Deno's declarations (`deno types` of the same binary) and the vetted
 * libraries parsed once, so a check costs tens of milliseconds instead of a `deno check` start-up
 * (~1.3 s). Checks run one at a time; a check past its wall time, or a process that dies (heap cap),
 * is answered with a typed diagnostic and the process is replaced — hostile types cost the caller
 * time, never the sandbox.
 */
export class ResidentTypeChecker {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private pending:
    | { id: number; child: ChildProcess; settle: (diagnostics: Diagnostics) => void }
    | undefined;
  private nextId = 1;
  private closed = false;
  private denoTypes: Promise<string> | undefined;
  /** Processes started so far (the first one and every replacement). */
  starts = 0;

  /** The checker process's id, while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  constructor(private readonly options: ResidentCheckerOptions) {}

  /** Starts the process and loads the declarations, so the first real check is warm. */
  warm(): Promise<void> {
    return this.check("export {};\n").then(() => undefined);
  }

  check(code: string): Promise<Diagnostics> {
    const run = this.queue.then(() => this.checkNow(code));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.child?.kill("SIGKILL");
    this.child = undefined;
  }

  private async checkNow(code: string): Promise<Diagnostics> {
    if (this.closed) return [{ code: "CHECK_FAILED", message: "the type checker is shut down" }];
    const child = await this.start();
    const id = this.nextId++;
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    return new Promise<Diagnostics>((settle) => {
      const finish = (diagnostics: Diagnostics) => {
        clearTimeout(timer);
        if (this.pending?.id === id) this.pending = undefined;
        settle(diagnostics);
      };
      const timer = setTimeout(() => {
        finish([{ code: "CHECK_TIMEOUT", message: "type checking took too long; simplify the types" }]);
        this.replace(child);
      }, timeoutMs);
      this.pending = { id, child, settle: finish };
      child.send({ type: "check", id, code });
    });
  }

  private start(): Promise<ChildProcess> {
    if (this.child && this.ready) return this.ready.then(() => this.child as ChildProcess);
    this.starts += 1;
    const child = fork(WORKER_PATH, [], {
      execArgv: ["--import", TSX_ESM, `--max-old-space-size=${this.options.heapMb ?? 768}`],
      // Nothing of the service's environment (credentials, bus address) reaches the checker.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_ENV: "production" },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = `${stderr}${chunk.toString("utf8")}`.slice(-2000);
    });
    child.on("message", (message: CheckedMessage) => {
      if (this.pending && message.id === this.pending.id) this.pending.settle(message.diagnostics);
    });
    child.on("exit", (code, signal) => {
      if (this.child === child) this.child = undefined;
      // Only the check this process was working on (a replaced process's exit comes late).
      if (this.pending?.child === child) {
        const outOfMemory = /heap out of memory/i.test(stderr);
        this.pending.settle([
          {
            code: outOfMemory ? "CHECK_OUT_OF_MEMORY" : "CHECK_INTERRUPTED",
            message: outOfMemory
              ? "type checking ran out of memory; simplify the types"
              : `the type checker stopped (${signal ?? `exit ${code}`})`,
          },
        ]);
      }
    });
    this.child = child;
    this.ready = this.init(child);
    return this.ready.then(() => child);
  }

  private async init(child: ChildProcess): Promise<void> {
    this.denoTypes ??= execa(this.options.denoPath, ["types"], {
      env: { DENO_DIR: this.options.denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      extendEnv: false,
      stdin: "ignore",
      maxBuffer: 16 * 1024 * 1024,
    }).then((result) => result.stdout);
    const message: InitMessage = {
      type: "init",
      denoTypes: await this.denoTypes,
      vetted: vettedModules(this.options.importMapPath),
    };
    child.send(message);
  }

  private replace(child: ChildProcess): void {
    if (this.child === child) {
      this.child = undefined;
      this.ready = undefined;
    }
    child.kill("SIGKILL");
  }
}

function vettedModules(importMapPath: string | undefined): Record<string, string> {
  if (!importMapPath) return {};
  const map = JSON.parse(readFileSync(importMapPath, "utf8")) as { imports?: Record<string, string> };
  return Object.fromEntries(
    Object.entries(map.imports ?? {}).map(([specifier, target]) => [
      specifier,
      resolve(dirname(importMapPath), target),
    ]),
  );
}
