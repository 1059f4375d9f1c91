import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/**
 * How memory and process-count limits are enforced on this machine, decided once at start-up:
 *
 * - `cgroup-v2`: a child cgroup per call with `memory.max`, `memory.swap.max` and `pids.max`.
 * - `cgroup-v1`: the same with the v1 files (`memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`,
 *   `pids.max`) where the v1 memory and pids hierarchies are mounted and writable.
 * - `prlimit`: no writable cgroup; memory is capped with RLIMIT_DATA, which must leave Deno
 *   ~550 MB to start, so small memory limits are raised to that floor (reported per call).
 *
 * CPU time (RLIMIT_CPU), file size (RLIMIT_FSIZE) and core dumps are set with prlimit in every mode.
 */
export const EnforcementMechanism = {
  cgroupV2: "cgroup-v2",
  cgroupV1: "cgroup-v1",
  prlimit: "prlimit",
} as const;
export type EnforcementMechanism = (typeof EnforcementMechanism)[keyof typeof EnforcementMechanism];

export interface Enforcement {
  mechanism: EnforcementMechanism;
  /** Why this mechanism (and not a stronger one) is in force. */
  reason: string;
  /** Creates the per-call cgroup (undefined in prlimit mode). */
  createCallGroup(id: string, limits: { memoryBytes: number; pids: number }): CallGroup | undefined;
  /** Removes the replica's parent cgroups. */
  dispose(): void;
}

export interface CallGroup {
  /** Moves a process (all its threads) into the group. */
  add(pid: number): void;
  /** True when the kernel OOM-killed (or refused memory to) a task of the group. */
  memoryExceeded(): boolean;
  /** Peak memory of the group in bytes, when the kernel reports it. */
  peakBytes(): number | undefined;
  /** Removes the group once its last task is gone (retries briefly while the kernel reaps it). */
  destroy(): Promise<void>;
}

/** Memory floor for RLIMIT_DATA: Deno 2.9 does not start with less (measured). */
export const PRLIMIT_DATA_FLOOR_BYTES = 640 * 1024 * 1024;

/**
 * Address space Deno 2.9 reserves before running anything (measured: it starts under RLIMIT_DATA
 * = 560 MiB, not below). RLIMIT_DATA counts reservations, not resident memory, so in prlimit mode
 * the cap is this plus the call's memory: a call granted 512 MiB can use about that much, instead
 * of the ~90 MiB a bare 640 MiB floor left it. Each Worker's isolate reserves about 500 MiB more
 * (measured), so under prlimit a tool can start a worker only with a large memory limit (ADR 0135).
 */
export const PRLIMIT_DENO_RESERVATION_BYTES = 560 * 1024 * 1024;

export function detectEnforcement(
  options: { forceMechanism?: EnforcementMechanism; root?: string } = {},
): Enforcement {
  const root = options.root ?? "/sys/fs/cgroup";
  const failures: string[] = [];
  if (options.forceMechanism !== EnforcementMechanism.prlimit) {
    if (options.forceMechanism !== EnforcementMechanism.cgroupV1) {
      // Unified mode mounts v2 at the root; hybrid mode (systemd) at <root>/unified.
      const v2Root = existsSync(join(root, "cgroup.controllers")) ? root : join(root, "unified");
      const v2 = tryCgroupV2(v2Root);
      if (typeof v2 !== "string") return v2;
      failures.push(`cgroup v2: ${v2}`);
    }
    if (options.forceMechanism !== EnforcementMechanism.cgroupV2) {
      const v1 = tryCgroupV1(root);
      if (typeof v1 !== "string")
        return { ...v1, reason: `${v1.reason}; not v2 because ${failures.join("; ") || "forced"}` };
      failures.push(`cgroup v1: ${v1}`);
    }
  }
  return {
    mechanism: EnforcementMechanism.prlimit,
    reason: failures.length > 0 ? failures.join("; ") : "forced by configuration",
    createCallGroup: () => undefined,
    dispose: () => {},
  };
}

function ownCgroupPath(controller: string | undefined): string | undefined {
  const lines = readFileSync("/proc/self/cgroup", "utf8").trim().split("\n");
  for (const line of lines) {
    const [, controllers, path] = line.split(":");
    if (controller === undefined ? controllers === "" : (controllers ?? "").split(",").includes(controller)) {
      return path;
    }
  }
  return undefined;
}

function replicaDirName(): string {
  return `insitu-sandbox-${process.pid}`;
}

/**
 * Cleans up after sandbox replicas that died without doing it themselves (SIGKILL, OOM): only
 * `insitu-sandbox-<pid>` groups whose pid is gone. Their calls' processes are killed (nothing
 * enforces those calls' wall limits any more), then the groups are removed once empty.
 */
function sweepStaleGroups(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^insitu-sandbox-(\d+)$/.exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    const dir = join(parent, name);
    for (const child of safeReaddir(dir)) {
      if (!child.startsWith("call-")) continue;
      // A call still running here outlived its replica (no one enforces its wall limit any more).
      for (const pid of safeRead(join(dir, child, "cgroup.procs"))
        .split("\n")
        .filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      removeGroupNow(join(dir, child));
    }
    removeGroupNow(dir);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Whether this process may run per-call cgroup v2 groups without root: a cgroup2 mount, the memory
 * and pids controllers available in its own cgroup, and that cgroup (its folder, `cgroup.procs`,
 * `cgroup.subtree_control`) writable by this user — what systemd's `Delegate=yes`, a container
 * runtime's private cgroup namespace with a writable /sys/fs/cgroup, or an operator's chown gives.
 * Says why not otherwise (on a cgroup v1 or hybrid host: which controllers the unified tree has).
 */
export function cgroupV2Delegation(root = "/sys/fs/cgroup"): { delegated: boolean; detail: string } {
  const v2Root = existsSync(join(root, "cgroup.controllers")) ? root : join(root, "unified");
  if (!existsSync(join(v2Root, "cgroup.controllers")))
    return {
      delegated: false,
      detail: `no cgroup2 mount at ${root} or ${join(root, "unified")} (cgroup v1 only)`,
    };
  let own: string | undefined;
  try {
    own = ownCgroupPath(undefined);
  } catch (error) {
    return { delegated: false, detail: (error as Error).message };
  }
  if (own === undefined) return { delegated: false, detail: "no unified entry in /proc/self/cgroup" };
  const ownDir = join(v2Root, own);
  const available = safeRead(join(ownDir, "cgroup.controllers")).split(/\s+/).filter(Boolean);
  const hybrid = v2Root !== root ? " (hybrid host: the controllers are on cgroup v1)" : "";
  if (!available.includes("memory") || !available.includes("pids")) {
    return {
      delegated: false,
      detail: `memory/pids controllers not delegated to ${ownDir} (have: ${available.join(" ") || "none"})${hybrid}`,
    };
  }
  for (const path of [ownDir, join(ownDir, "cgroup.procs"), join(ownDir, "cgroup.subtree_control")]) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      let owner = "";
      try {
        owner = ` (owned by uid ${statSync(path).uid})`;
      } catch {
        // gone
      }
      return {
        delegated: false,
        detail: `${path} is not writable by uid ${process.getuid?.() ?? "?"}${owner}: the cgroup is not delegated`,
      };
    }
  }
  return { delegated: true, detail: `${ownDir} is delegated (memory, pids; writable)` };
}

function tryCgroupV2(root: string): Enforcement | string {
  try {
    if (!existsSync(join(root, "cgroup.controllers"))) return `${root} is not a cgroup2 mount`;
    const own = ownCgroupPath(undefined);
    if (own === undefined) return "no unified entry in /proc/self/cgroup";
    const ownDir = join(root, own);
    const available = readFileSync(join(ownDir, "cgroup.controllers"), "utf8").split(/\s+/);
    if (!available.includes("memory") || !available.includes("pids")) {
      return `memory/pids controllers not delegated here (have: ${available.join(" ").trim() || "none"})`;
    }
    try {
      accessSync(join(ownDir, "cgroup.procs"), constants.W_OK);
    } catch {
      return `${ownDir} is not writable by uid ${process.getuid?.() ?? "?"} (not delegated)`;
    }
    const enabled = readFileSync(join(ownDir, "cgroup.subtree_control"), "utf8").split(/\s+/);
    if (!enabled.includes("memory") || !enabled.includes("pids")) {
      // Allowed at a cgroup namespace's root (a container) or in a delegated cgroup without
      // processes of its own; anywhere else the kernel refuses ("no internal processes") and we
      // fall back to v1 or prlimit.
      writeFileSync(join(ownDir, "cgroup.subtree_control"), "+memory +pids");
    }
    sweepStaleGroups(ownDir);
    const base = join(ownDir, replicaDirName());
    mkdirSync(base, { recursive: true });
    // Enabling controllers for children of `base` is allowed because `base` holds no process.
    writeFileSync(join(base, "cgroup.subtree_control"), "+memory +pids");
    return {
      mechanism: EnforcementMechanism.cgroupV2,
      reason: `delegated cgroup ${base}`,
      createCallGroup(id, limits) {
        const dir = join(base, id);
        mkdirSync(dir);
        writeFileSync(join(dir, "memory.max"), String(limits.memoryBytes));
        if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
        writeFileSync(join(dir, "pids.max"), String(limits.pids));
        return {
          add: (pid) => writeFileSync(join(dir, "cgroup.procs"), String(pid)),
          memoryExceeded: () => {
            const events = safeRead(join(dir, "memory.events"));
            return /^(oom|oom_kill|max) [1-9]/m.test(events);
          },
          peakBytes: () => numberOrUndefined(safeRead(join(dir, "memory.peak"))),
          destroy: () => removeGroup(dir),
        };
      },
      dispose: () => removeGroupNow(base),
    };
  } catch (error) {
    return (error as Error).message;
  }
}

function tryCgroupV1(root: string): Enforcement | string {
  try {
    const memoryRoot = join(root, "memory");
    const pidsRoot = join(root, "pids");
    if (!existsSync(join(memoryRoot, "memory.limit_in_bytes"))) return "no v1 memory hierarchy";
    if (!existsSync(join(pidsRoot, "pids.max")) && !existsSync(join(pidsRoot, "cgroup.procs"))) {
      return "no v1 pids hierarchy";
    }
    const memoryParent = join(memoryRoot, ownCgroupPath("memory") ?? "/");
    const pidsParent = join(pidsRoot, ownCgroupPath("pids") ?? "/");
    sweepStaleGroups(memoryParent);
    sweepStaleGroups(pidsParent);
    const memoryBase = join(memoryParent, replicaDirName());
    const pidsBase = join(pidsParent, replicaDirName());
    mkdirSync(memoryBase, { recursive: true });
    mkdirSync(pidsBase, { recursive: true });
    return {
      mechanism: EnforcementMechanism.cgroupV1,
      reason: `v1 memory ${memoryBase}, pids ${pidsBase}`,
      createCallGroup(id, limits) {
        const memoryDir = join(memoryBase, id);
        const pidsDir = join(pidsBase, id);
        mkdirSync(memoryDir);
        mkdirSync(pidsDir);
        writeFileSync(join(memoryDir, "memory.limit_in_bytes"), String(limits.memoryBytes));
        // memsw caps memory+swap; without it a bomb would spill into swap instead of dying.
        if (existsSync(join(memoryDir, "memory.memsw.limit_in_bytes"))) {
          try {
            writeFileSync(join(memoryDir, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes));
          } catch {
            // swap accounting disabled in this kernel: memory.limit_in_bytes alone applies
          }
        }
        writeFileSync(join(pidsDir, "pids.max"), String(limits.pids));
        return {
          add: (pid) => {
            writeFileSync(join(memoryDir, "cgroup.procs"), String(pid));
            writeFileSync(join(pidsDir, "cgroup.procs"), String(pid));
          },
          memoryExceeded: () => {
            const control = safeRead(join(memoryDir, "memory.oom_control"));
            if (/^oom_kill [1-9]/m.test(control)) return true;
            return (numberOrUndefined(safeRead(join(memoryDir, "memory.failcnt"))) ?? 0) > 0;
          },
          peakBytes: () => numberOrUndefined(safeRead(join(memoryDir, "memory.max_usage_in_bytes"))),
          destroy: async () => {
            await Promise.all([removeGroup(memoryDir), removeGroup(pidsDir)]);
          },
        };
      },
      dispose: () => {
        removeGroupNow(memoryBase);
        removeGroupNow(pidsBase);
      },
    };
  } catch (error) {
    return (error as Error).message;
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function numberOrUndefined(text: string): number | undefined {
  const value = Number.parseInt(text.trim(), 10);
  return Number.isFinite(value) ? value : undefined;
}

async function removeGroup(dir: string): Promise<void> {
  // A cgroup can be removed only once its last task has gone; the kernel may need a moment after
  // the process is reaped, so retry with a short backoff (never blocking the event loop).
  for (let attempt = 0; attempt < 40; attempt += 1) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EBUSY") return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 ** attempt)));
    }
  }
}

/** Removes the replica's (empty) parent group at shutdown; leftover children make this a no-op. */
function removeGroupNow(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // busy or gone
  }
}
