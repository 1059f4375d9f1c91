/**
 * The registry's shared state (its buckets, view, options and clock), the helpers every part
 * uses, and the read barriers that bring this replica's view up to the store.
 */
import { createHash } from "node:crypto";
import type { KvBucket, ObjectBucket } from "@insitu/bus";
import { type Payload, RegistryErrorCode, type Reply } from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import {
  Keys,
  type PoolDocument,
  type SnapshotDocument,
  type StatsDocument,
  type VersionDocument,
} from "../documents.js";
import type { LibraryView } from "../library-view.js";
import type { RegistryOptions } from "../registry.js";

export type Request<C> = Payload<C>;
export type Response<C> = Reply<C>;

/** A version document above this many bytes keeps its code and tests in the object store. */
export const INLINE_VERSION_BYTES = 128 * 1024;
/** Changes kept inline in a snapshot record; the full list is always in its body object. */
export const INLINE_CHANGES = 200;
/** Compare-and-set attempts before an internal commit gives up (each attempt re-reads). */
export const MAX_ATTEMPTS = 200;

export const encoder = new TextEncoder();

/** What every part of the registry works on; the {@link Registry} class holds one. */
export interface RegistryState {
  readonly kv: KvBucket;
  readonly calls: KvBucket;
  readonly blobs: ObjectBucket;
  readonly options: RegistryOptions;
  readonly view: LibraryView;
  readonly now: () => Date;
}

/**
 * Read barrier for library reads: one KV read of `current` (≈0.2 ms) so a reply never shows an
 * older library than a snapshot already committed through another replica. Other facts (usage,
 * tasks) reach this replica through the watch within milliseconds.
 */
export async function freshLibrary(s: RegistryState): Promise<void> {
  const entry = await s.kv.get<SnapshotDocument>(Keys.current);
  if (!entry || entry.value.info.number <= s.view.snapshotNumber) return;
  await s.view.applyOwn(Keys.current, entry.value, entry.revision);
  const missing = [...s.view.currentTools.values()].filter((hash) => !s.view.versions.has(hash));
  await Promise.all(missing.map((hash) => versionMeta(s, hash)));
}

/** Usage of some versions, read from the store (for one tool's stats). */
export async function freshUsage(s: RegistryState, hashes: string[]) {
  await Promise.all(
    hashes.map(async (hash) => {
      const entry = await s.kv.get<StatsDocument>(Keys.stats(hash));
      if (entry) await s.view.applyOwn(Keys.stats(hash), entry.value, entry.revision);
    }),
  );
  return s.view.usage(hashes);
}

/**
 * The pool version of a name, read from the store when this replica's view does not have it yet
 * (the task may have registered through another replica a moment ago).
 */
export async function freshPoolVersion(
  s: RegistryState,
  taskId: string,
  name: string,
): Promise<string | undefined> {
  const known = s.view.poolVersion(taskId, name);
  if (known) return known;
  const entry = await s.kv.get<PoolDocument>(Keys.pool(taskId));
  if (!entry) return undefined;
  await s.view.applyOwn(Keys.pool(taskId), entry.value, entry.revision);
  for (const { hash } of entry.value.versions) await versionMeta(s, hash);
  return s.view.poolVersion(taskId, name);
}

/** A version's metadata: from the view, else from the store (another replica just wrote it). */
export async function versionMeta(s: RegistryState, hash: string) {
  const known = s.view.versions.get(hash);
  if (known) return known;
  const entry = await s.kv.get<VersionDocument>(Keys.version(hash));
  if (!entry) return undefined;
  await s.view.applyOwn(Keys.version(hash), entry.value, entry.revision);
  return s.view.versions.get(hash);
}

export function callKey(callId: string): string {
  return `call.${createHash("sha256").update(callId).digest("hex")}`;
}

export function isConflict(error: unknown): boolean {
  return error instanceof InsituError && error.code === ErrorCode.conflict;
}

export function snapshotConflict(expected: number, current: number): InsituError {
  return new InsituError(`library is at snapshot ${current}, not ${expected}; re-read and retry`, {
    code: RegistryErrorCode.snapshotConflict,
    category: ErrorCategory.user,
    retryable: true,
    details: { expected, current },
  });
}

export function badRequest(message: string): InsituError {
  return new InsituError(message, { code: ErrorCode.invalidMessage, category: ErrorCategory.user });
}
