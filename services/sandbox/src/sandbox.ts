import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InsituError } from "@insitu/errors";
import {
  type ToolLimits,
  type ToolManifest,
  type ToolOutcome,
  type ToolTestCase,
  type ToolTestResult,
  judgeTestCase,
  validateAgainstSchema,
} from "@insitu/tool-kit";
import { Admission } from "./admission.js";
import { type EgressDenial, EgressProxy, type EgressProxyOptions } from "./egress/proxy.js";
import { classifyRun } from "./classify.js";
import { resolveDenoBinary } from "./deno-binary.js";
import {
  type Enforcement,
  EnforcementMechanism,
  cgroupV2Delegation,
  detectEnforcement,
  isAlive,
} from "./enforcement.js";
import { type LimitsReport, limitsReport } from "./limits-report.js";
import { type SandboxPolicy, computeGrant, effectiveLimits } from "./policy.js";
import {
  type Job,
  type ProcessProfile,
  ProcessSlot,
  type SpawnEnvironment,
  settleDisposals,
} from "./process-slot.js";
import { WarmPool, type WarmPoolOptions } from "./warm-pool.js";
import { DEFAULT_WORK_QUOTA, type WorkQuota } from "./work-quota.js";
import { WORKSPACE_RESULT_BYTES, finishWorkspace, prepareWorkspace, workspaceCallOf } from "./workspace.js";
import type { WorkspaceIO } from "@insitu/files";

const here = dirname(fileURLToPath(import.meta.url));
export const RUNNER_PATH = join(here, "..", "runner", "runner.js");
export const VENDOR_DIR = join(here, "..", "vendor");

/** Largest tool input accepted, serialized. */
export const MAX_INPUT_BYTES = 1024 * 1024;

export interface SandboxOptions {
  policy: SandboxPolicy;
  /** Deno binary; default: the npm platform package's native binary. */
  denoPath?: string;
  prlimitPath?: string;
  /** Executions at once in this replica. */
  concurrency?: number;
  /** Calls waiting for a slot before SANDBOX_BUSY. */
  maxQueue?: number;
  /**
   * Pre-spawned processes (defaults: DEFAULT_WARM_POOL); `perProfile: 0` turns the warm path off. `prewarm` (default true)
   * readies the profile of a tool without permissions at start-up.
   */
  warm?: Partial<WarmPoolOptions> & { prewarm?: boolean };
  enforcement?: Enforcement;
  /** Parent of the replica's folders (work dirs, Deno cache); default the OS temp dir. */
  workRoot?: string;
  /**
   * Size of the tmpfs mounted over the work dirs (needs root; default 2 GiB; `false` = plain disk).
   * On tmpfs a tool's files are memory charged to its own cgroup, so disk filling meets the memory
   * limit, and all calls together can never write more than this.
   */
  workTmpfsBytes?: number | false;
  /** Largest file a tool may write (RLIMIT_FSIZE). */
  maxFileBytes?: number;
  maxPids?: number;
  /**
   * What one call's work dir may hold (default 256 MiB, 10,000 entries, polled every 20 ms): the cap
   * on disk filling that holds without root (ADR 0135).
   */
  workQuota?: Partial<WorkQuota>;
  startupAllowanceMs?: number;
  /** When a call is answered (ADR 0140); `exit` only for the bench's A/B against the old path. */
  answerAt?: "frame" | "exit";
  /** Vetted library folder and import map; default: `services/sandbox/vendor` when present. */
  vendor?: { dir: string; importMap: string } | false;
  /** Task workspaces (JetStream); without it `files: "task"` tools get a scratch dir. */
  workspace?: WorkspaceIO;
  /**
   * The egress proxy every tool request goes through (resolver, request log, caps). Bytes a call
   * may move through it default to 64 MiB.
   */
  egress?: EgressProxyOptions & { maxBytesPerCall?: number };
}

export interface ExecRequest {
  tool: { code: string; manifest: ToolManifest; hash?: string };
  input: unknown;
  grantedSecrets?: string[];
  limits?: ToolLimits;
  /** The task whose workspace a `files: "task"` tool works in. */
  workspace?: { taskId: string; tool?: string };
  /** The task the call serves (for the egress log). */
  taskId?: string;
}

export interface TestRequest {
  tool: { code: string; manifest: ToolManifest; hash?: string };
  tests: ToolTestCase[];
  grantedSecrets?: string[];
}

export interface TestReport {
  passed: boolean;
  results: (ToolTestResult & { durationMs: number; outcome?: ToolOutcome })[];
  durationMs: number;
}

/** Where one call's time went, in ms (they add up to `totalMs`); for benches and metrics. */
export interface ExecPhases {
  /** Input validation, grant, waiting for the egress proxy. */
  checkMs: number;
  /** Waiting for an admission slot. */
  queueMs: number;
  /** Egress ticket, job, taking (or spawning) the process, workspace files in. */
  prepareMs: number;
  /** Job handed over → answer (result frame and stderr mark in). */
  runMs: number;
  /** Classification, output validation, workspace files out. */
  finishMs: number;
  totalMs: number;
}

export type ExecObserver = (event: {
  outcome: ToolOutcome;
  warm: boolean;
  phases: ExecPhases;
  peakMemoryBytes?: number;
  deniedEgress?: readonly EgressDenial[];
}) => void;

/** The sandbox of one replica: admission, warm pool, spawn environment. */
export class Sandbox {
  readonly enforcement: Enforcement;
  readonly environment: SpawnEnvironment;
  readonly admission: Admission;
  readonly warmPool: WarmPool;
  /** Every tool request leaves through this proxy (ADR 0070). */
  readonly egress: EgressProxy;
  private readonly egressListening: Promise<unknown>;
  private closed = false;
  private readonly replicaDir: string;
  /** `tmpfs` when the work dirs are on the sandbox's own tmpfs, else `disk`. */
  readonly workStorage: "tmpfs" | "disk";
  private readonly observers: ExecObserver[] = [];

  constructor(readonly options: SandboxOptions) {
    this.enforcement = options.enforcement ?? detectEnforcement();
    // Not /dev/shm: Deno treats everything under /dev as a device and demands --allow-all for it.
    sweepStaleReplicaDirs(options.workRoot ?? tmpdir());
    this.replicaDir = join(
      options.workRoot ?? tmpdir(),
      `insitu-sandbox-${process.pid}-${Date.now().toString(36)}`,
    );
    const workRoot = join(this.replicaDir, "work");
    const denoDir = join(this.replicaDir, "deno-dir");
    mkdirSync(workRoot, { recursive: true, mode: 0o700 });
    mkdirSync(denoDir, { recursive: true });
    // Deno keeps localStorage and the Cache API under DENO_DIR/location_data, keyed by the main
    // module (the same runner for every tool) and without any permission check: a channel from one
    // tool call to the next. A plain file in its place makes both unavailable to tools.
    writeFileSync(join(denoDir, "location_data"), "storage is disabled in the insitu sandbox\n", {
      mode: 0o444,
    });
    this.workStorage = mountTmpfs(workRoot, options.workTmpfsBytes ?? 2 * 1024 * 1024 * 1024);
    const vendor =
      options.vendor === false
        ? undefined
        : (options.vendor ??
          (existsSync(join(VENDOR_DIR, "import-map.json"))
            ? { dir: VENDOR_DIR, importMap: join(VENDOR_DIR, "import-map.json") }
            : undefined));
    this.environment = {
      denoPath: resolveDenoBinary(options.denoPath),
      prlimitPath: options.prlimitPath ?? "/usr/bin/prlimit",
      runnerPath: RUNNER_PATH,
      denoDir,
      workRoot,
      vendorDir: vendor?.dir,
      importMapPath: vendor?.importMap,
      enforcement: this.enforcement,
      maxFileBytes: options.maxFileBytes ?? 64 * 1024 * 1024,
      maxPids: options.maxPids ?? 64,
      maxUserProcesses:
        this.enforcement.mechanism === EnforcementMechanism.prlimit
          ? userProcessCeiling(options.maxPids ?? 64, options)
          : undefined,
      workQuota: { ...DEFAULT_WORK_QUOTA, ...options.workQuota },
      startupAllowanceMs: options.startupAllowanceMs ?? 300,
      answerAt: options.answerAt ?? "frame",
    };
    this.admission = new Admission(options.concurrency ?? 2, options.maxQueue ?? 64);
    const { prewarm: _prewarm, ...warmOptions } = options.warm ?? {};
    // Defaults in DEFAULT_WARM_POOL: at least one ready process per hot profile, deeper for bursts.
    this.warmPool = new WarmPool((profile) => new ProcessSlot(this.environment, profile), warmOptions);
    this.egress = new EgressProxy(options.egress);
    this.egressListening = this.egress.listen();
    // A failed listen is reported by the first exec that awaits it.
    this.egressListening.catch(() => undefined);
    if (options.warm?.prewarm ?? true) {
      // Most tools declare nothing and name no limits: have their process ready from the start.
      const limits = effectiveLimits(undefined, undefined, options.policy);
      void this.egressListening.then(
        () => {
          // A sandbox closed before its proxy listened must not spawn a process nobody will end.
          if (!this.closed)
            this.warmPool.prime({ net: [this.egress.hostPort], denyNet: [], envNames: [], ...limits });
        },
        () => undefined,
      );
    }
  }

  /** Which limits the kernel enforces exactly here and which are degraded stand-ins (ADR 0135). */
  limitsReport(): LimitsReport {
    return limitsReport({
      mechanism: this.enforcement.mechanism,
      reason: this.enforcement.reason,
      workStorage: this.workStorage,
      uid: process.getuid?.(),
      workQuota: this.environment.workQuota,
      maxPids: this.environment.maxPids,
      maxUserProcesses: this.environment.maxUserProcesses,
      maxFileBytes: this.environment.maxFileBytes,
      cgroupV2: cgroupV2Delegation(),
    });
  }

  onExec(observer: ExecObserver): void {
    this.observers.push(observer);
  }

  /** Runs one tool call; always answers with a typed outcome (SANDBOX_BUSY is thrown, retryable). */
  async exec(request: ExecRequest): Promise<ToolOutcome> {
    const started = performance.now();
    const { manifest } = request.tool;
    const inputIssues = checkInput(manifest, request.input);
    if (inputIssues) return { status: "INVALID_INPUT", issues: inputIssues, durationMs: elapsed(started) };
    const grant = computeGrant(manifest, request, this.options.policy);
    const workspace = workspaceCallOf(manifest, this.options.workspace, request.workspace);
    // A workspace tool may return more than its cap: the excess result is kept as a file.
    const resultBytes = workspace
      ? Math.max(grant.limits.outputBytes, WORKSPACE_RESULT_BYTES)
      : grant.limits.outputBytes;
    await this.egressListening;
    // The process may reach the egress proxy and nothing else, whatever the tool declares: the
    // proxy applies the grant to each request and sees (and reports) every refused one, even for a
    // tool that declares no network at all. Internal ranges need no --deny-net any more: the only
    // address Deno lets the tool dial is the proxy's.
    const profile: ProcessProfile = {
      net: [this.egress.hostPort],
      denyNet: [],
      envNames: Object.keys(grant.env).sort(),
      memoryMb: grant.limits.memoryMb,
      timeoutMs: grant.limits.timeoutMs,
      outputBytes: resultBytes,
    };
    const checked = performance.now();
    return this.admission.run(async () => {
      const admitted = performance.now();
      const ticket = this.egress.open({
        tool: manifest.name,
        version: request.tool.hash,
        task: request.taskId,
        net: grant.net,
        internalHosts: this.options.policy.internalHosts,
        secrets: grant.secrets,
        maxBytes: this.options.egress?.maxBytesPerCall ?? 64 * 1024 * 1024,
        deadline: Date.now() + grant.limits.timeoutMs + this.environment.startupAllowanceMs,
      });
      const job: Job = {
        moduleUrl: toModuleUrl(request.tool.code),
        input: request.input,
        env: grant.env,
        maxResultBytes: resultBytes,
        egress: { url: this.egress.url, token: ticket.token },
      };
      const warm = this.warmPool.take(profile);
      const slot = warm ?? new ProcessSlot(this.environment, profile);
      let raw: Awaited<ReturnType<ProcessSlot["run"]>>;
      let copiedIn = new Map<string, string>();
      let deniedEgress: EgressDenial[];
      let handedOver = admitted;
      let ran = admitted;
      try {
        if (workspace) copiedIn = await prepareWorkspace(workspace, slot.workDir);
        handedOver = performance.now();
        raw = await slot.run(job, grant.limits.timeoutMs, { keepWorkDir: workspace !== undefined });
        ran = performance.now();
      } catch (error) {
        void slot.dispose();
        throw error;
      } finally {
        deniedEgress = ticket.close();
        this.warmPool.replenish(profile);
      }
      let outcome = classifyRun(raw, { ...grant.limits, outputBytes: resultBytes });
      if (deniedEgress.length > 0)
        outcome = { ...outcome, deniedEgress: deniedEgress.map((entry) => ({ ...entry })) };
      if (outcome.status === "ok") {
        const issues = validateAgainstSchema(manifest.outputSchema, outcome.output);
        if (issues.length > 0) {
          outcome = {
            status: "INVALID_OUTPUT",
            issues,
            outputPreview: preview(outcome.output),
            durationMs: outcome.durationMs,
            ...(outcome.logs ? { logs: outcome.logs } : {}),
            ...(outcome.deniedEgress ? { deniedEgress: outcome.deniedEgress } : {}),
          };
        }
      }
      if (workspace) {
        try {
          outcome = await finishWorkspace(
            workspace,
            slot.workDir,
            copiedIn,
            outcome,
            grant.limits.outputBytes,
          );
        } finally {
          void slot.dispose();
        }
      }
      const finished = performance.now();
      const phases: ExecPhases = {
        checkMs: checked - started,
        queueMs: admitted - checked,
        prepareMs: handedOver - admitted,
        runMs: ran - handedOver,
        finishMs: finished - ran,
        totalMs: finished - started,
      };
      for (const observer of this.observers)
        observer({
          outcome,
          warm: warm !== undefined,
          phases,
          peakMemoryBytes: raw.peakMemoryBytes,
          deniedEgress,
        });
      return outcome;
    });
  }

  /** Runs each test case as its own call (at most `concurrency` at once) and judges it. */
  async test(request: TestRequest): Promise<TestReport> {
    const started = performance.now();
    // At most `concurrency` cases of one request in flight, so a long test list waits its turn
    // instead of overflowing the admission queue (which answers SANDBOX_BUSY).
    const results: TestReport["results"] = new Array(request.tests.length);
    let next = 0;
    const worker = async () => {
      while (next < request.tests.length) {
        const index = next;
        next += 1;
        const testCase = request.tests[index]!;
        const outcome = await this.exec({
          tool: request.tool,
          input: testCase.input,
          grantedSecrets: request.grantedSecrets,
        });
        const verdict = judgeTestCase(testCase, outcome);
        results[index] = {
          ...verdict,
          durationMs: outcome.durationMs,
          ...(verdict.passed ? {} : { outcome }),
        };
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.admission.concurrency, request.tests.length) }, worker),
    );
    return { passed: results.every((result) => result.passed), results, durationMs: elapsed(started) };
  }

  /** Imports a module in a permission-less process and returns its `manifest` export (or a failure outcome). */
  async readManifest(code: string): Promise<ToolOutcome> {
    const profile: ProcessProfile = {
      net: [],
      denyNet: [],
      envNames: [],
      memoryMb: 256,
      timeoutMs: 5000,
      outputBytes: 256 * 1024,
    };
    return this.admission.run(async () => {
      // Every build reads a manifest: keep a process of this profile ready like a tool call's.
      const slot = this.warmPool.take(profile) ?? new ProcessSlot(this.environment, profile);
      try {
        const raw = await slot.run(
          {
            moduleUrl: toModuleUrl(code),
            input: null,
            env: {},
            maxResultBytes: profile.outputBytes,
            mode: "manifest",
          },
          profile.timeoutMs,
        );
        return classifyRun(raw, profile);
      } finally {
        this.warmPool.replenish(profile);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.egressListening.catch(() => undefined);
    await this.warmPool.close();
    await settleDisposals();
    await this.egress.close();
    this.enforcement.dispose();
    if (this.workStorage === "tmpfs") {
      try {
        execFileSync("umount", ["-l", join(this.replicaDir, "work")], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
    rmSync(this.replicaDir, { recursive: true, force: true });
  }
}

/** Removes folders (and tmpfs mounts) of sandbox replicas that died without cleaning up. */
function sweepStaleReplicaDirs(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^insitu-sandbox-(\d+)-[a-z0-9]+$/.exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    const dir = join(parent, name);
    try {
      execFileSync("umount", ["-l", join(dir, "work")], { stdio: "ignore" });
    } catch {
      // not mounted
    }
    // A dead replica's orphaned Deno may still be writing into its folder (it is killed by the
    // enforcement sweep, not here, and a killed process can take a while to go on a loaded
    // machine): retry a removal that races it for up to ~1.8 s (linear back-off, 50 ms steps),
    // and never let a leftover folder stop this replica from starting — the next start sweeps it
    // again. (CI once saw 0.75 s fall short at load ~15; only a start after a crash with an
    // orphan still writing pays the wait.)
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 8, retryDelay: 50 });
    } catch {
      // removed by the next replica that starts
    }
  }
}

/**
 * RLIMIT_NPROC for prlimit mode. The kernel counts every thread of the user against it (not the
 * call's), so it must leave room for what the user already runs (the service, other processes) and
 * for every Deno process that can be alive at once (running, queued for warm start, pre-spawned):
 * a ceiling on a thread bomb across the whole user, not a per-call limit (ADR 0135).
 */
function userProcessCeiling(maxPids: number, options: SandboxOptions): number {
  const warm = (options.warm?.perProfile ?? 1) * (options.warm?.maxProfiles ?? 4);
  const processes = (options.concurrency ?? 2) + warm + 1;
  return userThreadCount() + maxPids * processes + 256;
}

/** Threads now running under this process's real uid (from /proc; 0 where there is none). */
function userThreadCount(): number {
  const uid = process.getuid?.();
  if (uid === undefined) return 0;
  let total = 0;
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (Number(real) !== uid) continue;
      total += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch {
      // gone
    }
  }
  return total;
}

function mountTmpfs(dir: string, bytes: number | false): "tmpfs" | "disk" {
  if (bytes === false || process.platform !== "linux" || process.getuid?.() !== 0) return "disk";
  try {
    execFileSync(
      "mount",
      ["-t", "tmpfs", "-o", `size=${bytes},mode=0700,nosuid,nodev,noexec`, "tmpfs", dir],
      {
        stdio: "ignore",
        timeout: 5000,
      },
    );
    return "tmpfs";
  } catch {
    return "disk";
  }
}

function checkInput(manifest: ToolManifest, input: unknown): { path: string; message: string }[] | undefined {
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(input) ?? "");
  } catch {
    return [{ path: "/", message: "the input is not plain JSON" }];
  }
  if (size > MAX_INPUT_BYTES)
    return [{ path: "/", message: `the input is larger than ${MAX_INPUT_BYTES} bytes` }];
  try {
    const issues = validateAgainstSchema(manifest.inputSchema, input);
    return issues.length > 0 ? issues : undefined;
  } catch (error) {
    throw new InsituError(`the tool's input schema does not compile: ${(error as Error).message}`, {
      code: "INVALID_TOOL",
      category: "user",
    });
  }
}

/** The vetted libraries tools may import, for prompts (from vendor/vendor.lock.json). */
export function vettedLibraries(): { specifier: string; version: string; purpose: string }[] {
  const lockPath = join(VENDOR_DIR, "vendor.lock.json");
  if (!existsSync(lockPath)) return [];
  const lock = JSON.parse(readFileSync(lockPath, "utf8")) as Record<
    string,
    { version: string; purpose: string }
  >;
  return Object.entries(lock)
    .map(([specifier, entry]) => ({ specifier, version: entry.version, purpose: entry.purpose }))
    .sort((a, b) => a.specifier.localeCompare(b.specifier));
}

/** The specifiers tools may import (the import map's keys). */
export function vettedSpecifiers(environment: SpawnEnvironment): string[] {
  if (!environment.importMapPath) return [];
  const map = JSON.parse(readFileSync(environment.importMapPath, "utf8")) as {
    imports?: Record<string, string>;
  };
  return Object.keys(map.imports ?? {}).sort();
}

export function toModuleUrl(code: string): string {
  return `data:application/typescript;base64,${Buffer.from(code, "utf8").toString("base64")}`;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
