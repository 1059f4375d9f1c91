import type {
  EvolverReport,
  LibraryChange,
  RejectedMerge,
  SignedTestReport,
  SnapshotInfo,
  ToolRequest,
  ToolVersionRecord,
  VersionSummary,
} from "@insitu/contracts";
import { ToolName } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { type LanguageModel, type Usage, generateObject } from "@insitu/llm";
import { responseSchemaFor } from "@insitu/roles";
import type { Logger } from "@insitu/telemetry";
import type { DevelopResult } from "@insitu/tool-developer";
import type { ToolManifest, ToolTestCase } from "@insitu/tool-kit";
import { z } from "zod";
import { BarrierBudget } from "./budget.js";
import { type ClusterCandidate, type ClusterOptions, preCluster } from "./cluster.js";
import type { CandidateVectors } from "./embeddings.js";
import { InputMappingSchema, applyMapping, mappingProblems } from "./mapping.js";
import { renderPrompt } from "./template.js";

/** One successful call of a member as the task recorded it (input and output JSON). */
export interface RecordedCall {
  callId: string;
  input: unknown;
  output: unknown;
}

export interface ToolSource {
  manifest: ToolManifest;
  code: string;
  tests: ToolTestCase[];
}

export interface TestRun {
  passed: boolean;
  results: { name: string; passed: boolean; failures: string[]; status: string }[];
}

/** What the evolver needs from the rest of the system; the bus adapters implement it. */
export interface EvolverPorts {
  model: LanguageModel;
  costOf(usage: Usage): number;
  currentSnapshot(): Promise<number>;
  /** Every version in the library at `snapshot`. */
  library(snapshot: number): Promise<VersionSummary[]>;
  /** Every version waiting for an absorb. */
  offered(): Promise<VersionSummary[]>;
  /** Hashes added to or changed in the library between two snapshots. */
  changedSince(from: number, to: number): Promise<Set<string>>;
  record(hash: string): Promise<ToolVersionRecord>;
  /** The member's successful calls with inputs and outputs (from the tasks' events). */
  successfulCalls(record: ToolVersionRecord): Promise<RecordedCall[]>;
  /**
   * Writes a tool through the tool developer's build path (write → check → its tests) with
   * `model` — the barrier's budgeted view of {@link EvolverPorts.model}.
   */
  develop(request: ToolRequest, prompt: string, model: LanguageModel): Promise<DevelopResult>;
  /** Runs test cases against a source in the sandbox. */
  test(source: ToolSource, cases: ToolTestCase[]): Promise<TestRun>;
  register(input: {
    barrierId: string;
    source: ToolSource;
    /** The sandbox's signed report of the merged tool's own tests, for the registry (ADR 0125). */
    testReport: SignedTestReport;
    parents: string[];
    summary: string;
    passed: number;
  }): Promise<string>;
  /** Commits one snapshot with compare-and-set (SNAPSHOT_CONFLICT when the library moved). */
  absorb(expected: number, changes: LibraryChange[], reason: string): Promise<SnapshotInfo>;
  /** The snapshot a barrier already committed (found by its reason tag), if any. */
  committedBy(barrierId: string): Promise<SnapshotInfo | undefined>;
  /** Snapshot the previous barrier ended at (0 before the first). */
  lastBarrierSnapshot(): Promise<number>;
  setLastBarrierSnapshot(snapshot: number): Promise<void>;
  /** Offered versions already judged (and left as they are) at an earlier barrier. */
  reviewed(hash: string): Promise<string | undefined>;
  markReviewed(hash: string, reason: string): Promise<void>;
  libraryLibraries: string[];
  renderBuildPrompt(request: ToolRequest): string;
  /** Tokens one barrier's model calls may spend and the wall time of one call (ADR 0091). */
  budget: { maxTokens: number; callTimeoutMs: number };
  /**
   * Embeddings for pre-clustering when an embedder is configured (EVOLVER_EMBEDDINGS); without it
   * pre-clustering is lexical only.
   */
  embeddings?: CandidateVectors;
  logger: Logger;
  now(): Date;
  heartbeat?: () => void;
}

const ConfirmSchema = z.object({
  groups: z
    .array(
      z.object({
        members: z.array(z.string()).min(1),
        merge: z.boolean(),
        reason: z.string().max(4000),
        name: ToolName.optional(),
        description: z.string().max(4000).optional(),
        input_schema: z.record(z.string(), z.unknown()).optional(),
        output_schema: z.record(z.string(), z.unknown()).optional(),
        mappings: z.array(InputMappingSchema).optional(),
      }),
    )
    .max(200),
});
type ConfirmedGroup = z.infer<typeof ConfirmSchema>["groups"][number];
const CONFIRM_RESPONSE_SCHEMA = responseSchemaFor(ConfirmSchema);

/** Tag in a barrier's snapshot reason: how a rerun finds that its commit already happened. */
export function barrierTag(barrierId: string): string {
  return `[barrier ${barrierId}]`;
}

const COMMIT_ATTEMPTS = 5;

/**
 * One barrier: gather candidates, pre-cluster, let the model confirm, build each merge through the
 * tool developer's path, admit it only under every member's tests and recorded calls, and commit
 * all admitted changes as ONE snapshot. Rerunning a barrier that already committed returns what
 * it committed; a run killed before its commit changed nothing, so the rerun starts over.
 */
export async function runBarrier(barrierId: string, ports: EvolverPorts): Promise<EvolverReport> {
  const startedAt = ports.now().toISOString();
  // Every request of the barrier goes through its budget, which also counts what they were billed.
  const budget = new BarrierBudget(ports.budget);
  const model = budget.model(ports.model, barrierId);
  const already = await ports.committedBy(barrierId);
  if (already) {
    await ports.setLastBarrierSnapshot(already.number);
    return {
      barrierId,
      baseSnapshot: already.number - 1,
      snapshot: already.number,
      candidates: 0,
      newTools: 0,
      groupsFound: 0,
      merged: (already.changes ?? [])
        .filter((change) => change.op === "merge" && change.hash)
        .map((change) => ({
          name: change.name,
          hash: change.hash as string,
          members: [],
          testsPassed: 0,
          replaysPassed: 0,
        })),
      rejected: [],
      added: already.changes.filter((change) => change.op === "add").map((change) => change.name),
      librarySize: already.size,
      tokens: 0,
      costUsd: 0,
      startedAt,
      finishedAt: ports.now().toISOString(),
    };
  }

  const base = await ports.currentSnapshot();
  const since = await ports.lastBarrierSnapshot();
  const library = await ports.library(base);
  const changed = since < base ? await ports.changedSince(since, base) : new Set<string>();
  const offered: VersionSummary[] = [];
  for (const version of await ports.offered()) {
    if (!(await ports.reviewed(version.hash))) offered.push(version);
  }
  const records = new Map<string, ToolVersionRecord>();
  const candidates: ClusterCandidate[] = [];
  for (const version of [...library, ...offered]) {
    const record = await ports.record(version.hash);
    records.set(version.hash, record);
    candidates.push({
      hash: record.hash,
      name: record.name,
      description: record.description,
      inputSchema: record.manifest.inputSchema,
      outputSchema: record.manifest.outputSchema,
      fresh: changed.has(record.hash) || version.status === "offered",
    });
  }
  const groups = preCluster(candidates, await clusterVectors(barrierId, candidates, ports));
  const rejected: RejectedMerge[] = [];
  const merged: EvolverReport["merged"] = [];
  const changes: LibraryChange[] = [];
  const libraryNames = new Set(library.map((version) => version.name));
  const grouped = new Set(groups.flat().map((candidate) => candidate.hash));

  let confirmed: ConfirmedGroup[] = [];
  let modelProblem: string | undefined;
  if (groups.length > 0) {
    // A model outage must not stall the batch: without verdicts no group merges, and the
    // barrier still admits the offered tools as they are (nothing is lost).
    const generated = await generateObject(
      model,
      {
        system: "You are the Evolver of insitu. Reply with JSON only.",
        responseSchema: CONFIRM_RESPONSE_SCHEMA,
        messages: [
          { role: "user", content: renderPrompt("cluster", { groups: describeGroups(groups, records) }) },
        ],
      },
      ConfirmSchema,
    ).catch((error: unknown) => {
      modelProblem = InsituError.from(error).message.slice(0, 1000);
      ports.logger.warn("the evolver's model gave no verdicts; no group is merged at this barrier", {
        barrierId,
        error,
      });
      return undefined;
    });
    if (generated) confirmed = generated.object.groups;
  }

  for (const group of groups) {
    ports.heartbeat?.();
    const names = group.map((member) => member.name);
    // The model's verdicts on this group: entries naming only tools of the group. It may split a
    // pre-cluster into smaller groups (or leave some members out: they stay as they are).
    const answers = confirmed.filter((entry) => entry.members.every((name) => names.includes(name)));
    if (answers.length === 0) {
      rejected.push({
        members: names,
        stage: "model",
        reason: modelProblem
          ? `no verdict: the model call failed (${modelProblem})`
          : "the model gave no verdict for this group",
      });
      continue;
    }
    const used = new Set<string>();
    for (const answer of answers) {
      const subgroup = group.filter(
        (member) => answer.members.includes(member.name) && !used.has(member.hash),
      );
      if (subgroup.length < 2) continue;
      const memberNames = subgroup.map((member) => member.name);
      if (!answer.merge) {
        rejected.push({
          members: memberNames,
          stage: "model",
          reason: answer.reason || "not the same capability",
        });
        continue;
      }
      if (budget.exhausted) {
        // Out of tokens: the group stays as it is, judged again at a later barrier.
        rejected.push({
          members: memberNames,
          stage: "build",
          reason: `not built: ${budget.exceededError(barrierId).message}`,
        });
        continue;
      }
      for (const member of subgroup) used.add(member.hash);
      const outcome = await mergeGroup(subgroup, answer, records, ports, model, barrierId);
      if (outcome.ok) {
        changes.push({
          op: "merge",
          hash: outcome.hash,
          members: subgroup.map((member) => member.hash),
          reason: answer.reason.slice(0, 2000),
        });
        merged.push({
          name: outcome.name,
          hash: outcome.hash,
          members: memberNames,
          testsPassed: outcome.testsPassed,
          replaysPassed: outcome.replaysPassed,
        });
      } else rejected.push({ members: memberNames, stage: outcome.stage, reason: outcome.reason });
    }
  }

  // Offered versions no group took: a name that left the library comes back as it was; a rival
  // of the library's version stays offered, judged (so the next barrier does not re-ask).
  const added: string[] = [];
  const mergedMembers = new Set(changes.flatMap((change) => (change.op === "merge" ? change.members : [])));
  for (const version of offered) {
    if (mergedMembers.has(version.hash)) continue;
    if (!libraryNames.has(version.name) && !added.includes(version.name)) {
      changes.push({ op: "add", hash: version.hash });
      added.push(version.name);
    }
  }

  let snapshot: SnapshotInfo | undefined;
  if (changes.length > 0) {
    snapshot = await commitWithRetry(
      ports,
      base,
      changes,
      `evolver ${barrierTag(barrierId)}: ${merged.length} merged, ${added.length} added`,
    );
    if (!snapshot) {
      for (const entry of merged)
        rejected.push({
          members: entry.members,
          stage: "commit",
          reason: "the library changed under the barrier; retried later",
        });
      merged.length = 0;
      added.length = 0;
    }
  }
  for (const version of offered) {
    if (mergedMembers.has(version.hash) && snapshot) continue;
    if (added.includes(version.name)) continue;
    const why = rejected.find((entry) => entry.members.includes(version.name))?.reason;
    if (snapshot || changes.length === 0) {
      await ports.markReviewed(
        version.hash,
        why ??
          (grouped.has(version.hash)
            ? "kept as it is"
            : "no similar tool; the library keeps its own version"),
      );
    }
  }
  const end = snapshot?.number ?? base;
  await ports.setLastBarrierSnapshot(end);
  const report: EvolverReport = {
    barrierId,
    baseSnapshot: base,
    candidates: candidates.length,
    newTools: candidates.filter((candidate) => candidate.fresh).length,
    groupsFound: groups.length,
    merged,
    rejected,
    added,
    librarySize: snapshot?.size ?? library.length,
    tokens: budget.spent,
    costUsd: ports.costOf(budget.usage),
    budgetTokens: budget.maxTokens,
    budgetExhausted: budget.exhausted,
    startedAt,
    finishedAt: ports.now().toISOString(),
  };
  if (snapshot) report.snapshot = snapshot.number;
  return report;
}

async function commitWithRetry(
  ports: EvolverPorts,
  base: number,
  changes: LibraryChange[],
  reason: string,
): Promise<SnapshotInfo | undefined> {
  let expected = base;
  for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
    try {
      return await ports.absorb(expected, changes, reason);
    } catch (error) {
      const typed = InsituError.from(error);
      if (typed.code !== "SNAPSHOT_CONFLICT") throw error;
      // Another commit (a task finishing) landed first. Our changes name their versions by hash
      // and a merge's members by hash, so they still mean the same on the newer library: retry
      // on it; the registry refuses the commit if a change no longer applies.
      expected = await ports.currentSnapshot();
    }
  }
  return undefined;
}

type MergeOutcome =
  | { ok: true; hash: string; name: string; testsPassed: number; replaysPassed: number }
  | { ok: false; stage: "build" | "review"; reason: string };

async function mergeGroup(
  group: ClusterCandidate[],
  answer: ConfirmedGroup,
  records: Map<string, ToolVersionRecord>,
  ports: EvolverPorts,
  model: LanguageModel,
  barrierId: string,
): Promise<MergeOutcome> {
  const first = records.get(group[0]?.hash ?? "") as ToolVersionRecord;
  const sameName = group.every((member) => member.name === first.name);
  const request: ToolRequest = {
    name: answer.name ?? first.name,
    description: answer.description ?? first.description,
    input_schema: answer.input_schema ?? first.manifest.inputSchema,
    output_schema: answer.output_schema ?? first.manifest.outputSchema,
  };
  // The reviewer checks the declared mapping before anything is built.
  const mappings = new Map<string, { rename: Record<string, string>; constants: Record<string, unknown> }>();
  for (const member of group) {
    const declared = answer.mappings?.find((mapping) => mapping.member === member.name);
    const mapping = declared ?? { rename: {}, constants: {} };
    if (!declared && !sameName && member.name !== request.name) {
      return { ok: false, stage: "review", reason: `the merge declares no input mapping for ${member.name}` };
    }
    const problems = mappingProblems(mapping, member.inputSchema, request.input_schema);
    if (problems.length > 0) {
      return { ok: false, stage: "review", reason: `mapping of ${member.name}: ${problems.join("; ")}` };
    }
    mappings.set(member.hash, mapping);
  }

  // Every member's tests and recorded successful calls, in the merged tool's input terms.
  const cases: ToolTestCase[] = [];
  let replayCount = 0;
  for (const member of group) {
    const record = records.get(member.hash) as ToolVersionRecord;
    const mapping = mappings.get(member.hash) ?? { rename: {}, constants: {} };
    for (const test of record.tests) {
      cases.push({
        ...test,
        name: `${member.name}: ${test.name}`.slice(0, 200),
        input: applyMapping(mapping, test.input),
      });
    }
    for (const call of await ports.successfulCalls(record)) {
      replayCount++;
      cases.push({
        name: `${member.name}: replay ${call.callId}`.slice(0, 200),
        input: applyMapping(mapping, call.input),
        expect: { equals: call.output },
      });
    }
  }

  const prompt = `${ports.renderBuildPrompt(request)}\n${renderPrompt("merge", {
    members: describeMembers(group, records, mappings),
  })}`;
  let built: DevelopResult;
  try {
    built = await ports.develop(request, prompt, model);
  } catch (error) {
    // A model failure (the barrier's budget running out included) rejects this merge only; what
    // it was billed is already counted by the budget.
    const failure = InsituError.from(error);
    return { ok: false, stage: "build", reason: `${failure.code}: ${failure.message}`.slice(0, 4000) };
  }
  if (!built.ok) return { ok: false, stage: "build", reason: built.reason.slice(0, 4000) };
  ports.heartbeat?.();

  const run = await ports.test(built.source, cases);
  const failing = run.results.filter((result) => !result.passed);
  if (!run.passed || failing.length > 0) {
    return {
      ok: false,
      stage: "review",
      reason: `the merged tool failed ${failing.length} of ${run.results.length} member checks: ${failing
        .slice(0, 5)
        .map((result) => `"${result.name}" ${result.failures.join("; ")}`)
        .join(" | ")}`.slice(0, 4000),
    };
  }
  const testsPassed = run.results.length - replayCount;
  const hash = await ports.register({
    barrierId,
    source: built.source,
    testReport: built.evidence.report,
    parents: group.map((member) => member.hash),
    summary: `merge of ${group.map((member) => member.name).join(", ")}: passed ${testsPassed} member tests and ${replayCount} replays of recorded calls through the declared mapping`,
    passed: run.results.length,
  });
  return { ok: true, hash, name: request.name, testsPassed, replaysPassed: replayCount };
}

function describeGroups(groups: ClusterCandidate[][], records: Map<string, ToolVersionRecord>): string {
  return groups
    .map(
      (group, index) =>
        `## Group ${index + 1}\n\n${group
          .map((member) => {
            const record = records.get(member.hash) as ToolVersionRecord;
            return `### \`${member.name}\` (${member.fresh ? "new" : "library"})\n\n${record.description}\n\ninput: \`${JSON.stringify(record.manifest.inputSchema)}\`\n\noutput: \`${JSON.stringify(record.manifest.outputSchema)}\`\n\n\`\`\`ts\n${body(record.code).slice(0, 3000)}\n\`\`\``;
          })
          .join("\n\n")}`,
    )
    .join("\n\n");
}

function describeMembers(
  group: ClusterCandidate[],
  records: Map<string, ToolVersionRecord>,
  mappings: Map<string, { rename: Record<string, string>; constants: Record<string, unknown> }>,
): string {
  return group
    .map((member) => {
      const record = records.get(member.hash) as ToolVersionRecord;
      return `## \`${member.name}\`\n\nmapping: \`${JSON.stringify(mappings.get(member.hash))}\`\n\n\`\`\`ts\n${body(record.code).slice(0, 6000)}\n\`\`\`\n\ntests: \`${JSON.stringify(record.tests).slice(0, 4000)}\``;
    })
    .join("\n\n");
}

function body(code: string): string {
  return code.replace(/^export const manifest = [\s\S]*?\n};\n\n/, "");
}

/**
 * The embedding part of pre-clustering's options. An embedder outage must not stall the batch:
 * the barrier then clusters lexically, as without an embedder, and says so in the log.
 */
export async function clusterVectors(
  barrierId: string,
  candidates: ClusterCandidate[],
  ports: EvolverPorts,
): Promise<ClusterOptions> {
  const embeddings = ports.embeddings;
  if (!embeddings || candidates.length < 2) return {};
  try {
    return { vectors: await embeddings.vectors(candidates), embeddingThreshold: embeddings.threshold };
  } catch (error) {
    ports.logger.warn("the embedder failed; this barrier pre-clusters lexically", {
      barrierId,
      model: embeddings.model,
      error,
    });
    return {};
  }
}
