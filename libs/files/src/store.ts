import { createHash } from "node:crypto";
import type { Bus, KvBucket, ObjectBucket } from "@insitu/bus";
import { isInsituError } from "@insitu/errors";
import { workspaceRetentionMs } from "./limits.js";

/** One file of a task's workspace. */
export interface WorkspaceEntry {
  /** Relative, `/`-separated path (checked with `workspacePathProblem`). */
  path: string;
  size: number;
  /** Sniffed from the content. */
  mediaType: string;
  /** `sha256:<hex>`; the object holding the bytes is `<taskId>/<hex>`. */
  digest: string;
  source: "attachment" | "tool";
  /** The tool that wrote it (tool files). */
  tool?: string;
  updatedAt: string;
}

export interface NewWorkspaceFile {
  path: string;
  bytes: Uint8Array;
  mediaType: string;
  source: WorkspaceEntry["source"];
  tool?: string;
}

/** What the sandbox and the executor need of a workspace (the sandbox's tests pass a fake). */
export interface WorkspaceIO {
  list(taskId: string): Promise<WorkspaceEntry[]>;
  read(taskId: string, entry: Pick<WorkspaceEntry, "digest">): Promise<Uint8Array | undefined>;
  save(taskId: string, files: NewWorkspaceFile[]): Promise<WorkspaceEntry[]>;
}

export const WORKSPACE_OBJECTS_BUCKET = "workspace-files";
export const WORKSPACE_INDEX_BUCKET = "workspace-index";

export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Task workspaces in JetStream: file bytes in an Object Store bucket, content-addressed per task
 * (`<taskId>/<sha256>`), and each task's index (path → digest, type, size) in a KV bucket, updated
 * with compare-and-set so two calls saving at once both land. Both buckets expire entries after
 * the configured retention, so a workspace goes away with its task.
 */
export class WorkspaceStore implements WorkspaceIO {
  private constructor(
    private readonly objects: ObjectBucket,
    private readonly index: KvBucket,
  ) {}

  static async open(bus: Bus, options: { retentionMs?: number } = {}): Promise<WorkspaceStore> {
    const ttlMs = options.retentionMs ?? workspaceRetentionMs();
    const [objects, index] = await Promise.all([
      bus.objects(WORKSPACE_OBJECTS_BUCKET, { ttlMs }),
      bus.kv(WORKSPACE_INDEX_BUCKET, { ttlMs }),
    ]);
    return new WorkspaceStore(objects, index);
  }

  async list(taskId: string): Promise<WorkspaceEntry[]> {
    const entry = await this.index.get<{ files: WorkspaceEntry[] }>(taskId);
    return entry?.value.files ?? [];
  }

  /** A file's bytes; bytes that do not match their digest are quarantined and read as absent. */
  async read(taskId: string, entry: Pick<WorkspaceEntry, "digest">): Promise<Uint8Array | undefined> {
    const name = objectName(taskId, entry.digest);
    const bytes = await this.objects.get(name);
    if (!bytes || digestOf(bytes) === entry.digest) return bytes;
    await this.objects.quarantine(name, `content does not match its name (${digestOf(bytes)})`);
    return undefined;
  }

  /** Finds a file by path and reads it. */
  async readPath(
    taskId: string,
    path: string,
  ): Promise<{ entry: WorkspaceEntry; bytes: Uint8Array } | undefined> {
    const entry = (await this.list(taskId)).find((candidate) => candidate.path === path);
    if (!entry) return undefined;
    const bytes = await this.read(taskId, entry);
    return bytes ? { entry, bytes } : undefined;
  }

  /** Stores the bytes, then records the files in the task's index (replacing same paths). */
  async save(taskId: string, files: NewWorkspaceFile[]): Promise<WorkspaceEntry[]> {
    if (files.length === 0) return [];
    const now = new Date().toISOString();
    const entries: WorkspaceEntry[] = [];
    for (const file of files) {
      const digest = digestOf(file.bytes);
      await this.objects.put(objectName(taskId, digest), file.bytes);
      entries.push({
        path: file.path,
        size: file.bytes.byteLength,
        mediaType: file.mediaType,
        digest,
        source: file.source,
        ...(file.tool ? { tool: file.tool } : {}),
        updatedAt: now,
      });
    }
    for (let attempt = 0; ; attempt++) {
      const current = await this.index.get<{ files: WorkspaceEntry[] }>(taskId);
      const paths = new Set(entries.map((entry) => entry.path));
      const merged = [...(current?.value.files ?? []).filter((entry) => !paths.has(entry.path)), ...entries];
      try {
        if (current) await this.index.update(taskId, { files: merged }, current.revision);
        else await this.index.create(taskId, { files: merged });
        return entries;
      } catch (error) {
        if (!isInsituError(error, "CONFLICT") || attempt >= 20) throw error;
      }
    }
  }
}

function objectName(taskId: string, digest: string): string {
  return `${taskId}/${digest.replace(/^sha256:/, "")}`;
}
