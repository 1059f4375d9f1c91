/**
 * Snapshots: absorbing pool versions into the library, rollback, the compare-and-set commit,
 * and reading the library at a snapshot (snapshots, diff).
 */
import { randomUUID } from "node:crypto";
import {
  type AppliedChange,
  type LibraryChange,
  type RegistryAbsorb,
  type RegistryDiff,
  RegistryErrorCode,
  type RegistryRollback,
  type RegistrySnapshots,
  type SnapshotInfo,
} from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError, notFound } from "@insitu/errors";
import { Keys, type SnapshotBody, type SnapshotDocument } from "../documents.js";
import {
  type RegistryState,
  type Request,
  type Response,
  INLINE_CHANGES,
  MAX_ATTEMPTS,
  encoder,
  freshLibrary,
  versionMeta,
  isConflict,
  snapshotConflict,
} from "./state.js";

export async function absorb(
  s: RegistryState,
  request: Request<typeof RegistryAbsorb>,
): Promise<Response<typeof RegistryAbsorb>> {
  return commit(s, {
    expected: request.expectedSnapshot,
    kind: "absorb",
    reason: request.reason,
    ...(request.taskId === undefined ? {} : { taskId: request.taskId }),
    change: (tools, aliases) => applyChanges(s, tools, request.changes, aliases),
  });
}

export async function rollback(
  s: RegistryState,
  request: Request<typeof RegistryRollback>,
): Promise<Response<typeof RegistryRollback>> {
  const target = await snapshotDocument(s, request.to);
  const targetBody = await s.view.body(target.body);
  const targetTools = targetBody.tools;
  const targetAliases = targetBody.aliases ?? {};
  return commit(s, {
    expected: request.expectedSnapshot,
    kind: "rollback",
    reason: request.reason,
    rollbackTo: request.to,
    change: async (tools, aliases) => {
      aliases.clear();
      for (const [alias, target] of Object.entries(targetAliases)) aliases.set(alias, target);
      const changes: AppliedChange[] = [];
      for (const [name, hash] of tools) {
        if (!(name in targetTools))
          changes.push({ op: "deprecate", name, previous: hash, reason: request.reason });
      }
      for (const [name, hash] of Object.entries(targetTools)) {
        const previous = tools.get(name);
        if (previous === hash) continue;
        const change: AppliedChange = { op: "restore", name, hash };
        if (previous) change.previous = previous;
        changes.push(change);
      }
      tools.clear();
      for (const [name, hash] of Object.entries(targetTools)) tools.set(name, hash);
      return changes;
    },
  });
}

/**
 * Commits one snapshot: reads `current`, applies `change` to a copy of its tool set, stores the
 * new body object, then compare-and-sets `current`. With `expected` a stale caller gets
 * SNAPSHOT_CONFLICT; without it (internal callers) the whole step is retried on a fresh read.
 */
export async function commit(
  s: RegistryState,
  plan: {
    expected?: number;
    kind: SnapshotInfo["kind"];
    reason: string;
    taskId?: string;
    rollbackTo?: number;
    /** Edits the tool set (and the alias map, name → name) in place; returns what it changed. */
    change: (tools: Map<string, string>, aliases: Map<string, string>) => Promise<AppliedChange[]>;
  },
): Promise<SnapshotInfo> {
  for (let attempt = 0; ; attempt++) {
    const current = await readCurrent(s);
    const number = current.value.info.number;
    if (plan.expected !== undefined && plan.expected !== number) {
      throw snapshotConflict(plan.expected, number);
    }
    // A current snapshot whose body is unreadable is built on the tool set the view serves in
    // its place (the newest earlier snapshot that reads): the commit heals the pointer.
    const currentBody = (await s.view.usableBody(current.value)).body;
    const tools = new Map(Object.entries(currentBody.tools));
    const aliases = new Map(Object.entries(currentBody.aliases ?? {}));
    const changes = await plan.change(tools, aliases);
    const sorted = Object.fromEntries([...tools].sort(([left], [right]) => (left < right ? -1 : 1)));
    const body: SnapshotBody = { tools: sorted, changes };
    // A name in the tool set is itself, never an alias (a later add under a merged name wins).
    for (const name of tools.keys()) aliases.delete(name);
    if (aliases.size > 0)
      body.aliases = Object.fromEntries([...aliases].sort(([left], [right]) => (left < right ? -1 : 1)));
    const bodyName = `snapshot-${number + 1}-${randomUUID()}`;
    await s.blobs.put(bodyName, encoder.encode(JSON.stringify(body)));
    const info: SnapshotInfo = {
      number: number + 1,
      time: s.now().toISOString(),
      kind: plan.kind,
      reason: plan.reason,
      size: tools.size,
      changes: changes.slice(0, INLINE_CHANGES),
      changeCount: changes.length,
    };
    if (plan.taskId !== undefined) info.taskId = plan.taskId;
    if (plan.rollbackTo !== undefined) info.rollbackTo = plan.rollbackTo;
    const document: SnapshotDocument = { info, body: bodyName };
    // Archive the snapshot we build on before moving past it: if its own committer died right
    // after its compare-and-set, this heals the archive (the value is the same either way).
    await s.kv.put(Keys.snapshot(number), current.value);
    try {
      const revision = await s.kv.update(Keys.current, document, current.revision);
      const archived = await s.kv.put(Keys.snapshot(info.number), document);
      await s.view.applyOwn(Keys.current, document, revision);
      await s.view.applyOwn(Keys.snapshot(info.number), document, archived);
      return info;
    } catch (error) {
      await s.blobs.delete(bodyName);
      if (!isConflict(error)) throw error;
      if (plan.expected !== undefined) {
        const latest = await readCurrent(s);
        throw snapshotConflict(plan.expected, latest.value.info.number);
      }
      if (attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

export async function applyChanges(
  s: RegistryState,
  tools: Map<string, string>,
  changes: LibraryChange[],
  aliases: Map<string, string> = new Map(),
): Promise<AppliedChange[]> {
  const applied: AppliedChange[] = [];
  for (const [index, change] of changes.entries()) {
    const invalid = (message: string): InsituError =>
      new InsituError(`change ${index} (${change.op}): ${message}`, {
        code: RegistryErrorCode.invalidChange,
        category: ErrorCategory.user,
        details: { index, change: change as never },
      });
    if (change.op === "deprecate") {
      const previous = tools.get(change.name);
      if (!previous) throw invalid(`the library has no tool named ${change.name}`);
      tools.delete(change.name);
      const entry: AppliedChange = { op: "deprecate", name: change.name, previous };
      if (change.reason) entry.reason = change.reason;
      applied.push(entry);
      continue;
    }
    const meta = await versionMeta(s, change.hash);
    if (!meta) throw invalid(`version ${change.hash} is not registered`);
    // A version held back by the approval policy never enters the library (ADR 0130).
    if (!s.view.admitted(change.hash)) {
      throw invalid(
        `version ${change.hash} is ${s.view.status(change.hash)}; an operator must approve it first`,
      );
    }
    const previous = tools.get(meta.name);
    if (change.op === "merge") {
      applied.push(...(await applyMerge(s, tools, aliases, change, meta.name, invalid)));
      continue;
    }
    if (change.op === "add") {
      if (previous) throw invalid(`the library already has ${meta.name} (${previous}); use replace`);
      tools.set(meta.name, change.hash);
      applied.push({ op: "add", name: meta.name, hash: change.hash });
    } else {
      if (!previous) throw invalid(`the library has no tool named ${meta.name}; use add`);
      if (change.expected && change.expected !== previous) {
        throw invalid(`${meta.name} is at ${previous}, not the expected ${change.expected}`);
      }
      tools.set(meta.name, change.hash);
      applied.push({ op: "replace", name: meta.name, hash: change.hash, previous });
    }
  }
  return applied;
}

/**
 * One `merge` change: the merged version takes its own name; each member name that differs
 * leaves the tool set and becomes an alias of the merged name (aliases that pointed at a member
 * name follow it). A member must be the library's version of its name or a version outside the
 * library (offered), never a stale one the caller did not review.
 */
export async function applyMerge(
  s: RegistryState,
  tools: Map<string, string>,
  aliases: Map<string, string>,
  change: Extract<LibraryChange, { op: "merge" }>,
  mergedName: string,
  invalid: (message: string) => InsituError,
): Promise<AppliedChange[]> {
  const applied: AppliedChange[] = [];
  const mergedMeta = await versionMeta(s, change.hash);
  for (const member of change.members) {
    if (!mergedMeta?.parents.includes(member)) {
      throw invalid(`member ${member} is not a parent of the merged version ${change.hash}`);
    }
  }
  const previous = tools.get(mergedName);
  tools.set(mergedName, change.hash);
  const entry: AppliedChange = {
    op: "merge",
    name: mergedName,
    hash: change.hash,
    members: change.members,
  };
  if (previous) entry.previous = previous;
  if (change.reason) entry.reason = change.reason;
  applied.push(entry);
  for (const member of change.members) {
    const memberMeta = await versionMeta(s, member);
    if (!memberMeta) throw invalid(`member version ${member} is not registered`);
    const name = memberMeta.name;
    if (name === mergedName) continue;
    const held = tools.get(name);
    tools.delete(name);
    aliases.set(name, mergedName);
    for (const [alias, target] of aliases) if (target === name) aliases.set(alias, mergedName);
    const aliasEntry: AppliedChange = { op: "alias", name, target: mergedName };
    if (held) aliasEntry.previous = held;
    applied.push(aliasEntry);
  }
  return applied;
}

export async function readCurrent(s: RegistryState): Promise<{ value: SnapshotDocument; revision: number }> {
  const entry = await s.kv.get<SnapshotDocument>(Keys.current);
  if (entry) return entry;
  await ensureGenesis(s);
  const created = await s.kv.get<SnapshotDocument>(Keys.current);
  if (!created) throw new InsituError("library has no current snapshot", { code: ErrorCode.internal });
  return created;
}

/** Snapshot 0, the empty library, committed once by whichever replica gets there first. */
export async function ensureGenesis(s: RegistryState): Promise<void> {
  if (await s.kv.get(Keys.current)) return;
  const body: SnapshotBody = { tools: {}, changes: [] };
  const bodyName = "snapshot-0-genesis";
  await s.blobs.put(bodyName, encoder.encode(JSON.stringify(body)));
  const document: SnapshotDocument = {
    info: {
      number: 0,
      time: s.now().toISOString(),
      kind: "genesis",
      reason: "empty library",
      size: 0,
      changes: [],
      changeCount: 0,
    },
    body: bodyName,
  };
  try {
    await s.kv.create(Keys.current, document);
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
}

export async function snapshotDocument(s: RegistryState, number: number): Promise<SnapshotDocument> {
  const known = s.view.snapshots.get(number);
  if (known) return known;
  const archived = await s.kv.get<SnapshotDocument>(Keys.snapshot(number));
  if (archived) return archived.value;
  const current = await readCurrent(s);
  if (current.value.info.number === number) return current.value;
  throw notFound(`snapshot ${number}`, { snapshot: number });
}

export async function toolsAt(
  s: RegistryState,
  snapshot: number | undefined,
): Promise<{ number: number; tools: Map<string, string> }> {
  if (snapshot === undefined || snapshot === s.view.snapshotNumber) {
    return { number: s.view.snapshotNumber, tools: s.view.currentTools };
  }
  const document = await snapshotDocument(s, snapshot);
  return { number: snapshot, tools: new Map(Object.entries((await s.view.body(document.body)).tools)) };
}

/** The alias map (member name → merged name) of a snapshot. */
export async function aliasesAt(s: RegistryState, snapshot: number): Promise<Map<string, string>> {
  if (snapshot === s.view.snapshotNumber) return s.view.currentAliases;
  const document = await snapshotDocument(s, snapshot);
  return new Map(Object.entries((await s.view.body(document.body)).aliases ?? {}));
}

export async function snapshots(
  s: RegistryState,
  request: Request<typeof RegistrySnapshots>,
): Promise<Response<typeof RegistrySnapshots>> {
  await freshLibrary(s);
  const before = request.before ?? Number.POSITIVE_INFINITY;
  const infos = [...s.view.snapshots.values()]
    .map((document) => document.info)
    .filter((info) => info.number < before)
    .sort((left, right) => right.number - left.number)
    .slice(0, request.limit ?? 50);
  return { current: s.view.snapshotNumber, snapshots: infos };
}

export async function diff(
  s: RegistryState,
  request: Request<typeof RegistryDiff>,
): Promise<Response<typeof RegistryDiff>> {
  await freshLibrary(s);
  const from = await toolsAt(s, request.from);
  const to = await toolsAt(s, request.to);
  const response: Response<typeof RegistryDiff> = {
    from: from.number,
    to: to.number,
    added: [],
    removed: [],
    changed: [],
    unchanged: 0,
  };
  for (const [name, hash] of to.tools) {
    const before = from.tools.get(name);
    if (before === undefined) response.added.push({ name, hash });
    else if (before !== hash) response.changed.push({ name, from: before, to: hash });
    else response.unchanged++;
  }
  for (const [name, hash] of from.tools) if (!to.tools.has(name)) response.removed.push({ name, hash });
  for (const list of [response.added, response.removed, response.changed]) {
    list.sort((left, right) => (left.name < right.name ? -1 : 1));
  }
  return response;
}
