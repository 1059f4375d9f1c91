import type { Dirent } from "node:fs";
import { lstat, readdir, readlink, rm, rmdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * A per-call cap on what a tool may store, that holds without root (ADR 0135).
 *
 * On the sandbox's own tmpfs under a memory cgroup a tool's files are memory charged to its call,
 * so the kernel stops disk filling exactly. Without root there is neither: work dirs live on a
 * plain disk (or a shared emptyDir), RLIMIT_FSIZE caps each file, and nothing caps their sum. This
 * watcher measures the work dir every `pollMs` and reports the first measurement over the quota; the
 * caller kills the process. It is degraded, not exact: a tool can write for one interval (plus one
 * walk) past the cap before it is stopped; the interval grows to twice the walk's duration for a
 * folder of many entries.
 *
 * What is counted: every entry under the work dir (files, folders, symlinks — not followed), each
 * file by its allocated blocks or apparent size, whichever is larger, and files the tool still holds
 * open after removing them (they keep their disk space but no longer appear in any folder: read through
 * /proc/<pid>/fd, which the sandbox may read because the tool runs as the same user).
 */
export interface WorkQuota {
  /** Bytes the work dir (and files removed but still open) may hold. */
  maxBytes: number;
  /** Entries (files, folders, links) the work dir may hold. */
  maxFiles: number;
  /** Milliseconds between the end of one measurement and the start of the next. */
  pollMs: number;
}

export const DEFAULT_WORK_QUOTA: WorkQuota = {
  maxBytes: 256 * 1024 * 1024,
  maxFiles: 10_000,
  pollMs: 20,
};

export interface WorkUsage {
  bytes: number;
  files: number;
  /** Bytes of files the process removed but still holds open (part of `bytes`). */
  unlinkedOpenBytes: number;
}

/**
 * Measures a work dir. Stops counting entries once `stopAfterFiles` is passed (the answer is then
 * already "over"), so a folder of a million files costs one bounded walk, not a million stats.
 */
export async function measureWorkDir(
  dir: string,
  pid: number | undefined,
  stopAfterFiles: number,
): Promise<WorkUsage> {
  // Entries are counted from folder listings first (one getdents per folder, no stat), so a folder
  // hoarding entries is found over its cap without a stat per entry; only then are files sized.
  let files = 0;
  const regular: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    let entries: Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      continue; // removed meanwhile, or not a folder any more
    }
    files += entries.length;
    if (files > stopAfterFiles) return { bytes: 0, files: stopAfterFiles + 1, unlinkedOpenBytes: 0 };
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) regular.push(path);
      // Links are not followed; their own few bytes are not counted.
    }
  }
  let bytes = 0;
  for (const path of regular) {
    try {
      const info = await lstat(path);
      bytes += Math.max(info.size, info.blocks * 512);
    } catch {
      // removed between listing and lstat
    }
  }
  const unlinkedOpenBytes = pid === undefined ? 0 : await unlinkedOpenFileBytes(pid, dir);
  return { bytes: bytes + unlinkedOpenBytes, files, unlinkedOpenBytes };
}

/** Bytes of files under `dir` that process `pid` holds open after removing them. */
async function unlinkedOpenFileBytes(pid: number, dir: string): Promise<number> {
  const fdDir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = await readdir(fdDir);
  } catch {
    return 0; // gone, or not Linux
  }
  let total = 0;
  for (const fd of fds) {
    try {
      const target = await readlink(join(fdDir, fd));
      if (!target.startsWith(`${dir}/`) || !target.endsWith(" (deleted)")) continue;
      // stat() on the fd link reaches the removed inode itself.
      const info = await stat(join(fdDir, fd));
      total += Math.max(info.size, info.blocks * 512);
    } catch {
      // closed meanwhile
    }
  }
  return total;
}

export interface WorkDirWatch {
  /** Stops polling; resolves once no measurement is in flight. */
  stop(): Promise<void>;
}

/**
 * Polls a work dir until stopped; calls `onExceeded` once, with the measurement, when it holds more
 * than the quota allows.
 */
export function watchWorkDir(
  dir: string,
  pid: number | undefined,
  quota: WorkQuota,
  onExceeded: (usage: WorkUsage) => void,
): WorkDirWatch {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const tick = () => {
    timer = undefined;
    const started = performance.now();
    // A work dir of thousands of entries takes a while to walk; waiting at least twice the last
    // walk keeps the watcher's share of the replica (one libuv thread, some event loop) under a
    // third, so a tool hoarding files cannot slow the other calls' proxy traffic much.
    const next = () => Math.max(quota.pollMs, 2 * (performance.now() - started));
    inFlight = measureWorkDir(dir, pid, quota.maxFiles).then(
      (usage) => {
        if (stopped) return;
        if (usage.bytes > quota.maxBytes || usage.files > quota.maxFiles) {
          stopped = true;
          onExceeded(usage);
          return;
        }
        timer = setTimeout(tick, next());
      },
      () => {
        if (!stopped) timer = setTimeout(tick, next());
      },
    );
  };
  // Nothing to measure before the tool had a moment to write: a call that ends within one interval
  // (most do) costs no file-system call at all.
  timer = setTimeout(tick, quota.pollMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}

/** The note a killed call's logs carry, so the tool's author sees which quota it met. */
export function describeQuotaBreach(usage: WorkUsage, quota: WorkQuota): string {
  const what =
    usage.files > quota.maxFiles
      ? `more than ${quota.maxFiles} files`
      : `${Math.round(usage.bytes / 1024 / 1024)} MiB (quota ${Math.round(quota.maxBytes / 1024 / 1024)} MiB${usage.unlinkedOpenBytes > 0 ? `, ${Math.round(usage.unlinkedOpenBytes / 1024 / 1024)} MiB in removed files still open` : ""})`;
  return `[sandbox] the work dir exceeded its quota: ${what}`;
}

/**
 * Removes a work dir one entry at a time. `fs.promises.rm` queues every unlink of a folder at once
 * on libuv's four-thread pool: after a tool left 10,000 files, every other file-system call of the
 * replica (the next calls' work dirs, the watcher, DNS lookups) waited seconds behind them and a
 * 1.5 s call timed out. One entry at a time keeps three threads free (ADR 0135).
 */
export async function removeWorkDir(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    await rm(dir, { force: true }).catch(() => undefined);
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await removeWorkDir(path);
    else await unlink(path).catch(() => undefined);
  }
  await rmdir(dir).catch(() => rm(dir, { recursive: true, force: true }).catch(() => undefined));
}
