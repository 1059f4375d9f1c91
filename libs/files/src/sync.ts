import type { Dirent } from "node:fs";
import { lstat, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { WorkspaceReport } from "@insitu/tool-kit";
import { FileLimits } from "./limits.js";
import { workspacePathProblem } from "./names.js";
import { sniffMediaType } from "./sniff.js";
import { type WorkspaceIO, digestOf } from "./store.js";

/**
 * Moving a task's workspace in and out of a sandbox call's work dir. The call's process is
 * single-use and its work dir is deleted afterwards, so replicas keep no state: everything a later
 * call may need goes back to the store.
 */

const COPY_IN_PARALLEL = 8;

/** Copies the task's files into `dir`; returns path → digest of what was copied (to spot changes). */
export async function copyWorkspaceIn(
  io: WorkspaceIO,
  taskId: string,
  dir: string,
  limits: Pick<typeof FileLimits, "workspaceFiles" | "workspaceBytes"> = FileLimits,
): Promise<Map<string, string>> {
  const copied = new Map<string, string>();
  let bytes = 0;
  const chosen = [];
  for (const entry of (await io.list(taskId)).slice(0, limits.workspaceFiles)) {
    // The index is ours, but a path is checked again before it becomes a file name on this host.
    if (workspacePathProblem(entry.path)) continue;
    if (bytes + entry.size > limits.workspaceBytes) break;
    bytes += entry.size;
    chosen.push(entry);
  }
  // A few reads in flight at once: each is a round trip to JetStream.
  for (let start = 0; start < chosen.length; start += COPY_IN_PARALLEL) {
    await Promise.all(
      chosen.slice(start, start + COPY_IN_PARALLEL).map(async (entry) => {
        const content = await io.read(taskId, entry);
        if (!content) return;
        const target = join(dir, ...entry.path.split("/"));
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, content);
        copied.set(entry.path, entry.digest);
      }),
    );
  }
  return copied;
}

export type CopyOutLimits = Pick<
  typeof FileLimits,
  "callFilesOut" | "callBytesOut" | "fileBytesOut" | "workspaceFiles"
>;

/** Directory entries looked at before the walk gives up (bounds the work a hostile tool can cause). */
const MAX_WALK_ENTRIES = 20_000;

/**
 * Saves the files in `dir` that are new or changed since {@link copyWorkspaceIn}. Bounded: a call
 * writing more than `callFilesOut` files keeps none of them (the report says why); a file with a bad
 * name, over the per-file cap, or past the per-call byte cap is refused on its own.
 */
export async function copyWorkspaceOut(
  io: WorkspaceIO,
  taskId: string,
  dir: string,
  copiedIn: Map<string, string>,
  options: { tool?: string; limits?: CopyOutLimits } = {},
): Promise<WorkspaceReport> {
  const limits = options.limits ?? FileLimits;
  const report: WorkspaceReport = { saved: [], refused: [] };
  const refuse = (path: string, reason: string) => {
    if (report.refused.length < 50) report.refused.push({ path: path.slice(0, 600), reason });
  };
  const candidates: { path: string; absolute: string; size: number }[] = [];
  let visited = 0;
  let overflow = false;
  const walk = async (folder: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      visited++;
      if (visited > MAX_WALK_ENTRIES || candidates.length > limits.callFilesOut) {
        overflow = true;
        return;
      }
      const absolute = join(folder, entry.name);
      const path = relative(dir, absolute).split(sep).join("/");
      if (entry.isDirectory()) {
        await walk(absolute);
        if (overflow) return;
        continue;
      }
      if (!entry.isFile()) {
        refuse(path, "not a regular file (links and devices are not kept)");
        continue;
      }
      const facts = await lstat(absolute).catch(() => undefined);
      if (!facts?.isFile()) continue;
      candidates.push({ path, absolute, size: facts.size });
    }
  };
  await walk(dir);
  const known = new Set(copiedIn.keys());
  const changed: { path: string; bytes: Uint8Array; mediaType: string }[] = [];
  if (!overflow) {
    let bytes = 0;
    for (const candidate of candidates) {
      const problem = workspacePathProblem(candidate.path);
      if (problem) {
        refuse(candidate.path, problem);
        continue;
      }
      if (candidate.size > limits.fileBytesOut) {
        refuse(candidate.path, `${candidate.size} bytes; at most ${limits.fileBytesOut} per file`);
        continue;
      }
      if (candidate.size === 0) {
        refuse(candidate.path, "empty (0 bytes)");
        continue;
      }
      const content = new Uint8Array(await readFile(candidate.absolute));
      if (copiedIn.get(candidate.path) === digestOf(content)) continue;
      if (bytes + content.byteLength > limits.callBytesOut) {
        refuse(candidate.path, `the call's files pass ${limits.callBytesOut} bytes`);
        continue;
      }
      if (!known.has(candidate.path) && known.size + 1 > limits.workspaceFiles) {
        refuse(candidate.path, `the workspace already holds ${limits.workspaceFiles} files`);
        continue;
      }
      known.add(candidate.path);
      bytes += content.byteLength;
      changed.push({ path: candidate.path, bytes: content, mediaType: sniffMediaType(content) });
    }
  }
  if (overflow || changed.length > limits.callFilesOut) {
    return {
      saved: [],
      refused: report.refused,
      error: `the call wrote more than ${limits.callFilesOut} new or changed files; at most ${limits.callFilesOut} are kept per call, so none of this call's files were kept`,
    };
  }
  const saved = await io.save(
    taskId,
    changed.map((file) => ({
      ...file,
      source: "tool" as const,
      ...(options.tool ? { tool: options.tool } : {}),
    })),
  );
  report.saved = saved.map((entry) => ({ path: entry.path, size: entry.size, mediaType: entry.mediaType }));
  return report;
}
