/**
 * Versions: registering a tool version and reading versions (get, list, history, export).
 */
import {
  RegistryErrorCode,
  type RegistryGet,
  type RegistryHistory,
  type RegistryList,
  type RegistryRegister,
  type ToolVersionRecord,
  type VersionStatus,
  type VersionSummary,
} from "@insitu/contracts";
import { ErrorCategory, InsituError, notFound } from "@insitu/errors";
import { computeToolHash, type ToolTestCase } from "@insitu/tool-kit";
import { Keys, type PoolDocument, type VersionDocument, hexOf } from "../documents.js";
import { BODY_LIMITS } from "../library-view.js";
import { versionBodyProblem } from "../document-guards.js";
import { checkTestEvidence } from "../evidence-gate.js";
import {
  type RegistryState,
  type Request,
  type Response,
  INLINE_VERSION_BYTES,
  MAX_ATTEMPTS,
  encoder,
  freshLibrary,
  freshPoolVersion,
  versionMeta,
  isConflict,
  badRequest,
} from "./state.js";
import { openReview } from "./reviews.js";
import { toolsAt, aliasesAt } from "./snapshots.js";
import { embed } from "./search.js";
import { noteTask } from "./usage.js";

export async function register(
  s: RegistryState,
  request: Request<typeof RegistryRegister>,
): Promise<Response<typeof RegistryRegister>> {
  // Before anything is read or written: a version is admitted only on the sandbox's own word.
  const verified = checkTestEvidence(request, s.options.trust);
  const hash = computeToolHash({ manifest: request.manifest, code: request.code, tests: request.tests });
  const parents = request.parents ?? [];
  for (const parent of parents) {
    if (!(await versionMeta(s, parent))) {
      throw new InsituError(`parent version ${parent} is not registered`, {
        code: RegistryErrorCode.invalidVersion,
        category: ErrorCategory.user,
        details: { parent },
      });
    }
  }
  let pool = await s.kv.get<PoolDocument>(Keys.pool(request.taskId));
  if (pool?.value.state === "finished") {
    throw new InsituError(`task ${request.taskId} is finished; its pool takes no more versions`, {
      code: RegistryErrorCode.poolFinished,
      category: ErrorCategory.user,
      details: { taskId: request.taskId },
    });
  }

  const document: VersionDocument = {
    hash,
    name: request.manifest.name,
    manifest: request.manifest,
    origin: request.origin ?? (parents.length > 0 ? "repaired" : "created"),
    createdByTask: request.taskId,
    parents,
    createdAt: s.now().toISOString(),
    evidence: [verified, ...request.evidence],
    code: request.code,
    tests: request.tests,
  };
  const created = await storeVersion(s, document);
  // Before the pool holds it: a version the policy holds back is never served, not even briefly.
  await openReview(s, document, request.taskId);

  // Add to the task's pool (compare-and-set; concurrent registrations into one pool all land).
  for (let attempt = 0; ; attempt++) {
    const versions = pool?.value.versions ?? [];
    if (pool?.value.state === "finished") {
      throw new InsituError(`task ${request.taskId} finished while registering`, {
        code: RegistryErrorCode.poolFinished,
        category: ErrorCategory.user,
      });
    }
    if (versions.some((entry) => entry.hash === hash)) break;
    const next: PoolDocument = {
      taskId: request.taskId,
      state: "open",
      versions: [...versions, { hash, name: document.name, at: s.now().toISOString() }],
    };
    try {
      const revision = pool
        ? await s.kv.update(Keys.pool(request.taskId), next, pool.revision)
        : await s.kv.create(Keys.pool(request.taskId), next);
      await s.view.applyOwn(Keys.pool(request.taskId), next, revision);
      break;
    } catch (error) {
      if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
      pool = await s.kv.get<PoolDocument>(Keys.pool(request.taskId));
    }
  }
  await noteTask(s, request.taskId);
  if (s.options.embeddings) await embed(s, [hash]);
  return { hash, name: document.name, created, status: s.view.status(hash) };
}

/** Writes an immutable version (idempotent). True when this call created it. */
export async function storeVersion(s: RegistryState, document: VersionDocument): Promise<boolean> {
  let stored: VersionDocument = document;
  if (encoder.encode(JSON.stringify(document)).byteLength > INLINE_VERSION_BYTES) {
    const body = `version-${hexOf(document.hash)}`;
    await s.blobs.put(body, encoder.encode(JSON.stringify({ code: document.code, tests: document.tests })));
    const { code: _code, tests: _tests, ...rest } = document;
    stored = { ...rest, body };
  }
  try {
    const revision = await s.kv.create(Keys.version(document.hash), stored);
    await s.view.applyOwn(Keys.version(document.hash), stored, revision);
    return true;
  } catch (error) {
    if (isConflict(error)) return false;
    throw error;
  }
}

export async function get(
  s: RegistryState,
  request: Request<typeof RegistryGet>,
): Promise<Response<typeof RegistryGet>> {
  await freshLibrary(s);
  let hash: string | undefined;
  if (request.by === "hash") hash = request.hash;
  else if (request.by === "ordinal") hash = s.view.byName.get(request.name)?.[request.ordinal - 1];
  else {
    if (request.taskId) hash = await freshPoolVersion(s, request.taskId, request.name);
    const at = await toolsAt(s, request.snapshot);
    hash ??= at.tools.get(request.name);
    // A merged member's name resolves to the merged tool.
    if (hash === undefined) {
      const target = (await aliasesAt(s, at.number)).get(request.name);
      if (target) hash = at.tools.get(target);
    }
  }
  const found = hash ? await record(s, hash) : undefined;
  if (!found) throw notFound(`tool ${JSON.stringify(request)}`, { request: request as never });
  return found;
}

/** A whole version, read from the store (code and tests from the object store when large). */
export async function record(s: RegistryState, hash: string): Promise<ToolVersionRecord | undefined> {
  const entry = await s.kv.get<VersionDocument>(Keys.version(hash));
  if (!entry) return undefined;
  const document = entry.value;
  let code = document.code;
  let tests = document.tests;
  if (document.body) ({ code, tests } = await versionBody(s, hash, document.body));
  if (!s.view.versions.has(hash)) await s.view.applyOwn(Keys.version(hash), document, entry.revision);
  const summary = s.view.summary(hash) as VersionSummary;
  const record: ToolVersionRecord = {
    ...summary,
    manifest: document.manifest,
    code: code ?? "",
    tests: tests ?? [],
    evidence: document.evidence,
  };
  if (s.view.search.hasVector(hash) && s.options.embeddings) {
    record.embeddingModel = s.options.embeddings.model;
  }
  return record;
}

/**
 * A large version's code and tests from its body object. Corrupt or wrong-shaped bodies are
 * quarantined; then (or when it is gone) the version is TOOL_VERSION_UNAVAILABLE, a server-side
 * fault: the version can be listed and searched, not run.
 */
export async function versionBody(
  s: RegistryState,
  hash: string,
  name: string,
): Promise<{ code: string; tests: ToolTestCase[] }> {
  const value = await s.blobs.getJson(name, BODY_LIMITS);
  const problem =
    value === undefined ? "missing from the object store, or quarantined" : versionBodyProblem(value);
  if (value !== undefined && problem) await s.blobs.quarantine(name, problem);
  if (!problem) return value as { code: string; tests: ToolTestCase[] };
  throw new InsituError(`the code and tests of version ${hash} are unreadable: ${problem}`, {
    code: RegistryErrorCode.versionUnavailable,
    category: ErrorCategory.system,
    details: { hash, body: name, reason: problem },
  });
}

export async function list(
  s: RegistryState,
  request: Request<typeof RegistryList>,
): Promise<Response<typeof RegistryList>> {
  await freshLibrary(s);
  let hashes: string[];
  let snapshot = s.view.snapshotNumber;
  const scope = request.scope ?? "library";
  if (scope === "pool") {
    if (!request.taskId) throw badRequest("scope pool needs taskId");
    const entry = await s.kv.get<PoolDocument>(Keys.pool(request.taskId));
    if (entry) {
      await s.view.applyOwn(Keys.pool(request.taskId), entry.value, entry.revision);
      await Promise.all(entry.value.versions.map(({ hash }) => versionMeta(s, hash)));
    }
    hashes = (s.view.pools.get(request.taskId)?.versions ?? []).map((entry) => entry.hash);
  } else if (scope === "status") {
    if (!request.status) throw badRequest("scope status needs status");
    const wanted: VersionStatus = request.status;
    hashes = [...s.view.versions.keys()].filter((hash) => s.view.status(hash) === wanted);
  } else {
    const at = await toolsAt(s, request.snapshot);
    snapshot = at.number;
    hashes = [...at.tools.values()];
  }
  let summaries = hashes.map((hash) => s.view.summary(hash)).filter((item) => item !== undefined);
  if (request.nameContains)
    summaries = summaries.filter((item) => item.name.includes(request.nameContains ?? ""));
  summaries.sort((left, right) =>
    left.name < right.name ? -1 : left.name > right.name ? 1 : left.ordinal - right.ordinal,
  );
  return {
    snapshot,
    total: summaries.length,
    tools: summaries.slice(request.offset ?? 0, (request.offset ?? 0) + (request.limit ?? 100)),
  };
}

export async function history(
  s: RegistryState,
  request: Request<typeof RegistryHistory>,
): Promise<Response<typeof RegistryHistory>> {
  await freshLibrary(s);
  const hashes = s.view.byName.get(request.name) ?? [];
  const events: Response<typeof RegistryHistory>["events"] = [];
  const numbers = [...s.view.snapshots.keys()].sort((left, right) => left - right);
  for (const number of numbers) {
    const document = s.view.snapshots.get(number);
    if (!document) continue;
    const { info } = document;
    // An unreadable body leaves the inline changes (the first 200) to tell.
    const changes =
      info.changeCount > info.changes.length
        ? ((await s.view.body(document.body).catch(() => undefined))?.changes ?? info.changes)
        : info.changes;
    for (const change of changes) {
      if (change.name === request.name)
        events.push({ snapshot: number, time: info.time, kind: info.kind, change });
    }
  }
  if (hashes.length === 0 && events.length === 0)
    throw notFound(`tool ${request.name}`, { name: request.name });
  const response: Response<typeof RegistryHistory> = {
    name: request.name,
    versions: hashes.map((hash) => s.view.summary(hash)).filter((item) => item !== undefined),
    events,
  };
  const current = s.view.currentTools.get(request.name);
  if (current) response.current = current;
  return response;
}

/** Reads every stored version with its code and tests (export). */
export async function allRecords(s: RegistryState): Promise<ToolVersionRecord[]> {
  const records: ToolVersionRecord[] = [];
  for (const hash of s.view.versions.keys()) {
    const found = await record(s, hash);
    if (found) records.push(found);
  }
  return records;
}
