import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type ResultPromise, execa } from "execa";
import {
  type CallGroup,
  type Enforcement,
  EnforcementMechanism,
  PRLIMIT_DATA_FLOOR_BYTES,
  PRLIMIT_DENO_RESERVATION_BYTES,
} from "./enforcement.js";
import {
  type WorkQuota,
  type WorkUsage,
  describeQuotaBreach,
  measureWorkDir,
  removeWorkDir,
  watchWorkDir,
} from "./work-quota.js";

/** Everything that decides a Deno process's flags; processes are pre-spawned per profile. */
/** Calls longer than this get one last work-dir measurement before their answer. */
const FINAL_MEASURE_AFTER_MS = 20;

export interface ProcessProfile {
  /** `--allow-net` entries. */
  net: string[];
  /** `--deny-net` entries (internal ranges applied to resolved addresses). */
  denyNet: string[];
  /** `--allow-env` names (values arrive with the job). */
  envNames: string[];
  memoryMb: number;
  /** Wall-time budget the CPU limit is derived from. */
  timeoutMs: number;
  outputBytes: number;
}

export function profileKey(profile: ProcessProfile): string {
  return JSON.stringify([
    profile.net,
    profile.denyNet,
    profile.envNames,
    profile.memoryMb,
    profile.timeoutMs,
    profile.outputBytes,
  ]);
}

export interface SpawnEnvironment {
  denoPath: string;
  prlimitPath: string;
  runnerPath: string;
  /** Deno's module/emit cache (owned by the sandbox; tools cannot read or write it). */
  denoDir: string;
  /** Parent of the per-call work dirs. */
  workRoot: string;
  /** Read-only folder of vetted libraries, or undefined. */
  vendorDir?: string;
  /** Import map naming the vetted libraries, or undefined. */
  importMapPath?: string;
  enforcement: Enforcement;
  /** Largest file a tool may write in its work dir. */
  maxFileBytes: number;
  /** Threads+processes per call (cgroup pids.max). */
  maxPids: number;
  /**
   * RLIMIT_NPROC in prlimit mode (no pids cgroup): the kernel counts every thread of the user, so this
   * is a per-user ceiling shared with the other calls, not a per-call one (ADR 0135). Undefined: none.
   */
  maxUserProcesses?: number;
  /** What one call's work dir may hold, measured by polling (ADR 0135). */
  workQuota: WorkQuota;
  /** Extra wall time for Deno's own start before the tool's budget is spent. */
  startupAllowanceMs: number;
  /**
   * `frame` (default): answer once the result frame and stderr mark are in (ADR 0140). `exit`:
   * also wait for the killed process to be reaped first — the earlier behaviour, kept for the
   * bench's same-run A/B.
   */
  answerAt?: "frame" | "exit";
}

/** What the runner writes first on stdout once it has started and waits for its job (stripped). */
const READY_MARK = Buffer.from("\u001eready\n");

/** Bytes of tool prints (stdout+stderr) kept beyond the result budget before the call is killed. */
export const LOG_ALLOWANCE_BYTES = 64 * 1024;

export interface RawRun {
  exitCode?: number;
  signal?: string;
  /** Set when the sandbox killed the process, and why. */
  killedFor?: "timeout" | "output-limit" | "work-quota";
  /** Set with `killedFor: "work-quota"`: which quota the work dir met. */
  quotaNote?: string;
  stdout: Buffer;
  stderr: Buffer;
  memoryExceeded: boolean;
  peakMemoryBytes?: number;
  /** Wall time from the job being handed over to the process's exit. */
  durationMs: number;
  /** The effective memory cap in bytes (raised to the RLIMIT_DATA floor in prlimit mode). */
  memoryCapBytes: number;
}

export interface Job {
  /** `manifest` imports the module and returns its `manifest` export instead of running it. */
  mode?: "run" | "manifest";
  moduleUrl: string;
  input: unknown;
  env: Record<string, string>;
  maxResultBytes: number;
  /** Where the runner's fetch sends requests, and the call's token there. */
  egress?: { url: string; token: string };
}

let callCounter = 0;
const pendingDisposals = new Set<Promise<void>>();

/** Resolves when every process handed back so far is gone and cleaned up (for shutdown). */
export async function settleDisposals(): Promise<void> {
  while (pendingDisposals.size > 0) await Promise.all([...pendingDisposals]);
}

/**
 * One single-use Deno process: spawned (possibly ahead of time) with a profile's flags, its own
 * work dir and cgroup, waiting for its one job on stdin. It never runs a second tool.
 */
export class ProcessSlot {
  readonly profile: ProcessProfile;
  readonly key: string;
  readonly spawnedAt = performance.now();
  private readonly child: ResultPromise;
  /** The call's working directory (the tool's cwd; its task workspace for `files: "task"` tools). */
  readonly workDir: string;
  private readonly group: CallGroup | undefined;
  private readonly memoryCapBytes: number;
  private stdoutChunks: Buffer[] = [];
  private stderrChunks: Buffer[] = [];
  private outputBytes = 0;
  /** Bytes of stdout received so far, and the last bytes of each stream (for marks split across chunks). */
  private stdoutLength = 0;
  private stdoutTail: Buffer = Buffer.alloc(0);
  private stderrTail: Buffer = Buffer.alloc(0);
  /** Where the frame's marker starts in stdout, once seen. */
  private frameStart: number | undefined;
  /** Set once the whole result frame is in: stdout is cut there, later bytes are not the call's. */
  private frameEnd: number | undefined;
  /** Set once the runner's stderr mark is in: stderr is cut there. */
  private stderrEnded = false;
  private answerReady: (() => void) | undefined;
  /** The first stdout bytes, held until they can be told apart from the runner's ready mark. */
  private readyHead: Buffer | undefined = Buffer.alloc(0);
  /** True once the runner has started and waits for its job (its ready mark arrived). */
  started = false;
  private killedFor: RawRun["killedFor"];
  private quotaNote: string | undefined;
  private used = false;
  private disposed = false;
  private readonly exited: Promise<{ exitCode?: number; signal?: string }>;
  private readonly outputCap: number;
  private exitedNow = false;
  private frameMarker: Buffer | undefined;
  private stderrMark: Buffer | undefined;

  constructor(
    private readonly environment: SpawnEnvironment,
    profile: ProcessProfile,
  ) {
    this.profile = profile;
    this.key = profileKey(profile);
    callCounter += 1;
    const id = `call-${process.pid}-${callCounter}-${randomBytes(4).toString("hex")}`;
    this.workDir = mkdtempSync(join(environment.workRoot, `${id}-`));
    const mechanism = environment.enforcement.mechanism;
    const requestedBytes = profile.memoryMb * 1024 * 1024;
    this.memoryCapBytes =
      mechanism === EnforcementMechanism.prlimit
        ? Math.max(requestedBytes + PRLIMIT_DENO_RESERVATION_BYTES, PRLIMIT_DATA_FLOOR_BYTES)
        : requestedBytes;
    try {
      this.group = environment.enforcement.createCallGroup(id, {
        memoryBytes: this.memoryCapBytes,
        pids: environment.maxPids,
      });
    } catch (error) {
      rmSync(this.workDir, { recursive: true, force: true });
      throw error;
    }
    const limits = prlimitArgs(environment, profile, this.memoryCapBytes);
    const readable = [this.workDir, ...(environment.vendorDir ? [environment.vendorDir] : [])];
    // The V8 heap is capped below the OS limit so an ordinary heap bomb ends as a clean V8 OOM;
    // ArrayBuffers live outside that heap and meet the cgroup / RLIMIT_DATA cap instead.
    const heapMb = Math.max(32, profile.memoryMb - 48);
    const flags = [
      "run",
      "--no-prompt",
      "--no-remote",
      "--no-npm",
      "--no-config",
      "--no-lock",
      `--allow-read=${readable.join(",")}`,
      `--allow-write=${this.workDir}`,
      `--v8-flags=--max-old-space-size=${heapMb}`,
    ];
    if (profile.net.length > 0) flags.push(`--allow-net=${profile.net.join(",")}`);
    if (profile.denyNet.length > 0) flags.push(`--deny-net=${profile.denyNet.join(",")}`);
    if (profile.envNames.length > 0) flags.push(`--allow-env=${profile.envNames.join(",")}`);
    if (environment.importMapPath) flags.push(`--import-map=${environment.importMapPath}`);
    flags.push(environment.runnerPath);

    this.child = execa(environment.prlimitPath, [...limits, "--", environment.denoPath, ...flags], {
      cwd: this.workDir,
      // A clean environment: nothing of the host's (this machine sets RUST_BACKTRACE=1, tokens …).
      env: {
        DENO_DIR: environment.denoDir,
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        DENO_NO_PACKAGE_JSON: "1",
      },
      extendEnv: false,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      encoding: "buffer",
      buffer: false,
      detached: true,
      reject: false,
      cleanup: true,
      windowsHide: true,
    });
    const pid = this.child.pid;
    if (pid !== undefined && this.group) {
      try {
        // The job (and so the tool) only arrives after this, so nothing of the tool runs outside the group.
        this.group.add(pid);
      } catch (error) {
        this.kill();
        throw error;
      }
    }
    this.outputCap = profile.outputBytes + LOG_ALLOWANCE_BYTES + 256;
    this.child.stdout?.on("data", (chunk: Buffer) => this.onStdout(chunk));
    this.child.stderr?.on("data", (chunk: Buffer) => this.onStderr(chunk));
    this.child.stdin?.on("error", () => {
      // EPIPE when the process died before reading its job; the exit status tells the story.
    });
    this.exited = this.child.then((result) => {
      this.exitedNow = true;
      return {
        exitCode: result.exitCode ?? undefined,
        signal: result.signal ?? undefined,
      };
    });
  }

  /** True while the process is waiting for its job. */
  get alive(): boolean {
    return !this.exitedNow && !this.used && !this.disposed;
  }

  /** Hands the job over and waits for the process to end (or be killed at the wall limit). */
  async run(
    job: Job,
    timeoutMs: number,
    options: {
      /** Leave the work dir (and process group) for the caller to read, then call {@link dispose}. */
      keepWorkDir?: boolean;
    } = {},
  ): Promise<RawRun & { nonce: string }> {
    if (this.used) throw new Error("a sandbox process runs one job only");
    this.used = true;
    const nonce = randomBytes(24).toString("base64url");

    this.frameMarker = Buffer.from(`\u001e${nonce}:`);
    this.stderrMark = Buffer.from(`\u001e${nonce}.\n`);
    const answered = new Promise<"frame">((resolve) => {
      this.answerReady = () => resolve("frame");
    });
    const started = performance.now();
    const timer = setTimeout(() => {
      if (!this.killedFor) this.killedFor = "timeout";
      this.kill();
    }, timeoutMs + this.environment.startupAllowanceMs);
    // The tool's code runs only after the job arrives: from then on its work dir is measured.
    const watch = watchWorkDir(
      this.workDir,
      this.child.pid,
      this.environment.workQuota,
      (usage: WorkUsage) => {
        if (!this.killedFor) {
          this.killedFor = "work-quota";
          this.quotaNote = describeQuotaBreach(usage, this.environment.workQuota);
        }
        this.kill();
      },
    );
    try {
      this.child.stdin?.end(JSON.stringify({ ...job, nonce }));
      // The answer is ready once the whole result frame and the runner's stderr mark (written just
      // before it) are in: everything the call printed is then held, and nothing the process does
      // afterwards can change the answer (ADR 0140). A process that ends without both (a crash, a
      // kill at a limit, a tool that closed stderr) is read at its exit instead.
      const how = await Promise.race([this.exited.then(() => "exit" as const), answered]);
      if (how === "frame" && this.environment.answerAt === "exit") {
        this.kill();
        await this.exited;
      }
      const status = how === "exit" ? await this.exited : {};
      const durationMs = performance.now() - started;
      // Once stopped, a measurement still in flight can no longer mark the call: no need to wait.
      void watch.stop();
      // A tool that outran the poll (a burst of writes, then its answer, on a loaded machine) is
      // still judged by what its work dir holds at the end: one last measurement, taken while the
      // process still holds any removed-but-open files. Calls shorter than 20 ms, which could
      // write little, skip it and keep their no-file-system-call fast path (ADR 0135).
      if (!this.killedFor && durationMs > FINAL_MEASURE_AFTER_MS) {
        const quota = this.environment.workQuota;
        const usage = await measureWorkDir(this.workDir, this.child.pid, quota.maxFiles).catch(
          () => undefined,
        );
        if (usage && !this.killedFor && (usage.bytes > quota.maxBytes || usage.files > quota.maxFiles)) {
          this.killedFor = "work-quota";
          this.quotaNote = describeQuotaBreach(usage, quota);
        }
      }
      // The process is not needed any more: it is killed now and reaped in the background.
      this.kill();
      // A caller that reads the work dir (a workspace call) must see it only after every writer is gone.
      if (options.keepWorkDir) await this.exited;
      return {
        ...status,
        killedFor: this.killedFor,
        ...(this.quotaNote ? { quotaNote: this.quotaNote } : {}),
        stdout: Buffer.concat(this.stdoutChunks),
        stderr: Buffer.concat(this.stderrChunks),
        memoryExceeded: this.group?.memoryExceeded() ?? false,
        peakMemoryBytes: this.group?.peakBytes(),
        durationMs,
        memoryCapBytes: this.memoryCapBytes,
        nonce,
      };
    } finally {
      clearTimeout(timer);
      void watch.stop();
      // Cleanup (reaping, cgroup removal, work dir deletion) happens after the answer, not before it.
      if (!options.keepWorkDir) void this.dispose();
      else this.kill();
    }
  }

  /** Counts output against the call's cap; false (and the process killed) once it is exceeded. */
  private admit(bytes: number): boolean {
    this.outputBytes += bytes;
    if (this.outputBytes <= this.outputCap) return true;
    if (!this.killedFor) this.killedFor = "output-limit";
    this.kill();
    return false;
  }

  private onStdout(data: Buffer): void {
    let chunk = data;
    if (this.readyHead !== undefined) {
      // The runner's ready mark comes before anything a tool can write: strip it.
      const head = Buffer.concat([this.readyHead, chunk]);
      if (head.length < READY_MARK.length && READY_MARK.subarray(0, head.length).equals(head)) {
        this.readyHead = head;
        return;
      }
      this.readyHead = undefined;
      if (head.subarray(0, READY_MARK.length).equals(READY_MARK)) {
        this.started = true;
        chunk = head.subarray(READY_MARK.length);
        if (chunk.length === 0) return;
      } else chunk = head;
    }
    // Bytes after the result frame belong to no answer (the runner exits right after it).
    if (this.frameEnd !== undefined || this.killedFor === "output-limit") return;
    if (!this.admit(chunk.length)) return;
    this.stdoutChunks.push(chunk);
    const before = this.stdoutLength;
    this.stdoutLength += chunk.length;
    const marker = this.frameMarker;
    if (marker === undefined) {
      this.stdoutTail = tailOf(this.stdoutTail, chunk, 64);
      return;
    }
    if (this.frameStart === undefined) {
      const window = Buffer.concat([this.stdoutTail, chunk]);
      const at = window.indexOf(marker);
      this.stdoutTail = tailOf(this.stdoutTail, chunk, marker.length + 16);
      if (at < 0) return;
      this.frameStart = before - (window.length - chunk.length) + at;
    }
    // The header (`<length>:`) is short; the frame is complete once its body and newline are in.
    const stdout = Buffer.concat(this.stdoutChunks);
    this.stdoutChunks = [stdout];
    const lengthStart = this.frameStart + marker.length;
    const colon = stdout.indexOf(0x3a, lengthStart);
    if (colon < 0 || colon - lengthStart > 10) return;
    const lengthText = stdout.subarray(lengthStart, colon).toString("latin1");
    if (!/^\d{1,10}$/.test(lengthText)) return;
    const end = colon + 1 + Number(lengthText) + 1;
    if (stdout.length < end) return;
    this.frameEnd = end;
    this.stdoutChunks = [stdout.subarray(0, end)];
    this.checkAnswer();
  }

  private onStderr(chunk: Buffer): void {
    // Bytes after the runner's mark were written after the result: not part of the answer.
    if (this.stderrEnded || this.killedFor === "output-limit") return;
    const mark = this.stderrMark;
    if (mark !== undefined) {
      const window = Buffer.concat([this.stderrTail, chunk]);
      const at = window.indexOf(mark);
      if (at >= 0) {
        const inChunk = at - this.stderrTail.length;
        const kept = inChunk > 0 ? chunk.subarray(0, inChunk) : Buffer.alloc(0);
        if (!this.admit(kept.length)) return;
        if (inChunk < 0) {
          // The mark began in the previous chunk: drop its first bytes from what was kept.
          const all = Buffer.concat(this.stderrChunks);
          this.stderrChunks = [all.subarray(0, all.length + inChunk)];
        } else this.stderrChunks.push(kept);
        this.stderrEnded = true;
        this.checkAnswer();
        return;
      }
    }
    if (!this.admit(chunk.length)) return;
    this.stderrChunks.push(chunk);
    this.stderrTail = tailOf(this.stderrTail, chunk, (mark?.length ?? 64) - 1);
  }

  private checkAnswer(): void {
    if (this.frameEnd === undefined || !this.stderrEnded || !this.answerReady) return;
    const answer = this.answerReady;
    this.answerReady = undefined;
    answer();
  }

  /** Kills the whole process group. */
  kill(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.exitedNow) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }

  /** Kills the process if needed, then removes its work dir and cgroup. */
  dispose(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.disposed = true;
    const done = this.cleanUp().finally(() => pendingDisposals.delete(done));
    pendingDisposals.add(done);
    return done;
  }

  private async cleanUp(): Promise<void> {
    this.kill();
    await this.exited.catch(() => undefined);
    await Promise.all([this.group?.destroy(), removeWorkDir(this.workDir).catch(() => undefined)]);
  }
}

/**
 * The prlimit flags of one process. CPU time (RLIMIT_CPU), file size (RLIMIT_FSIZE), core dumps and
 * open files apply in every mode; without a cgroup, memory is RLIMIT_DATA and threads RLIMIT_NPROC
 * (both degraded, ADR 0135).
 */
export function prlimitArgs(
  environment: Pick<
    SpawnEnvironment,
    "enforcement" | "startupAllowanceMs" | "maxFileBytes" | "maxUserProcesses"
  >,
  profile: Pick<ProcessProfile, "timeoutMs">,
  memoryCapBytes: number,
): string[] {
  const cpuSeconds = Math.ceil((profile.timeoutMs + environment.startupAllowanceMs) / 1000) + 1;
  const limits = [
    `--cpu=${cpuSeconds}:${cpuSeconds}`,
    `--fsize=${environment.maxFileBytes}:${environment.maxFileBytes}`,
    "--core=0:0",
    "--nofile=256:256",
  ];
  if (environment.enforcement.mechanism === EnforcementMechanism.prlimit) {
    limits.push(`--data=${memoryCapBytes}:${memoryCapBytes}`);
    if (environment.maxUserProcesses !== undefined)
      limits.push(`--nproc=${environment.maxUserProcesses}:${environment.maxUserProcesses}`);
  }
  return limits;
}

/** The last `keep` bytes of `previous` followed by `chunk`. */
function tailOf(previous: Buffer, chunk: Buffer, keep: number): Buffer {
  if (chunk.length >= keep) return Buffer.from(chunk.subarray(chunk.length - keep));
  const joined = Buffer.concat([previous, chunk]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
}
