import { createHash } from "node:crypto";
import type { Bus, KvBucket } from "@insitu/bus";
import {
  type ToolVersionRecord,
  RegistryAbsorb,
  RegistryDiff,
  RegistryGet,
  RegistryList,
  RegistryRegister,
  RegistrySnapshots,
  SandboxTest,
  TaskEvents,
  type TrustedKeys,
  verifyTestReport,
  type TaskEvent,
  type VersionSummary,
} from "@insitu/contracts";
import type { Usage } from "@insitu/llm";
import type { RoleModel } from "@insitu/roles";
import type { Logger } from "@insitu/telemetry";
import { developTool, renderBuildPrompt, sandboxPorts } from "@insitu/tool-developer";
import type { ToolTestCase } from "@insitu/tool-kit";
import { type EvolverPorts, type RecordedCall, barrierTag } from "./absorb.js";
import type { CandidateVectors } from "./embeddings.js";

/** Recorded calls replayed per member (the newest tasks' first successful calls). */
const MAX_REPLAYS_PER_MEMBER = 20;
/** The executor cuts event inputs/outputs at this many characters; a cut one cannot be replayed. */
const EVENT_TEXT_LIMIT = 2000;
/** How long to wait for a finished task's events to replay before using what arrived. */
const EVENT_REPLAY_IDLE_MS = 1500;

export interface AdapterOptions {
  bus: Bus;
  role: RoleModel;
  state: KvBucket;
  libraries: string[];
  buildAttempts: number;
  sandboxTimeoutMs: number;
  /** Tokens one barrier's model calls may spend and the wall time of one call. */
  budget: { maxTokens: number; callTimeoutMs: number };
  logger: Logger;
  now?: () => Date;
  /** Embeddings for pre-clustering, when configured. */
  embeddings?: CandidateVectors;
  /** Sandbox keys whose test reports the merge review believes (ADR 0125). */
  trustedSandboxKeys: TrustedKeys;
}

/** The evolver's ports over the bus: registry and sandbox requests, task events, its own KV. */
export async function busPorts(options: AdapterOptions): Promise<Omit<EvolverPorts, "heartbeat">> {
  const { bus, state } = options;
  const sandbox = sandboxPorts(bus, options.sandboxTimeoutMs);
  // Read-only looks at the registry's own buckets: which tasks called a version (stats) and which
  // version a task's call went to (raw call records, keyed by sha256 of the call id).
  const registryKv = await bus.kv("registry");
  const callsKv = await bus.kv("registry-calls");
  const now = options.now ?? (() => new Date());

  const listAll = async (request: Parameters<typeof bus.request<typeof RegistryList>>[1]) => {
    const tools: VersionSummary[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await bus.request(RegistryList, { ...request, offset, limit: 1000 });
      tools.push(...page.tools);
      if (tools.length >= page.total || page.tools.length === 0) return tools;
    }
  };

  return {
    model: options.role.model,
    costOf: (usage: Usage) => options.role.costOf(usage),
    logger: options.logger,
    now,
    libraryLibraries: options.libraries,
    renderBuildPrompt: (request) => renderBuildPrompt(request, undefined, options.libraries),
    budget: options.budget,
    ...(options.embeddings ? { embeddings: options.embeddings } : {}),
    async currentSnapshot() {
      return (await bus.request(RegistrySnapshots, { limit: 1 })).current;
    },
    library: (snapshot) => listAll({ scope: "library", snapshot }),
    offered: () => listAll({ scope: "status", status: "offered" }),
    async changedSince(from, to) {
      const diff = await bus.request(RegistryDiff, { from, to });
      return new Set([...diff.added.map((item) => item.hash), ...diff.changed.map((item) => item.to)]);
    },
    record: (hash) => bus.request(RegistryGet, { by: "hash", hash }),
    async successfulCalls(record) {
      const tasks = new Set<string>();
      if (record.createdByTask) tasks.add(record.createdByTask);
      const stats = await registryKv.get<{ tasks?: string[] }>(`stats.${record.hash.slice(7)}`);
      for (const task of stats?.value.tasks ?? []) tasks.add(task);
      const calls: RecordedCall[] = [];
      for (const taskId of [...tasks].slice(0, 50)) {
        if (calls.length >= MAX_REPLAYS_PER_MEMBER) break;
        for (const call of await callsOfTask(bus, callsKv, taskId, record)) {
          if (calls.length >= MAX_REPLAYS_PER_MEMBER) break;
          calls.push(call);
        }
      }
      return calls;
    },
    develop: (request, prompt, model) =>
      developTool(request, prompt, {
        model,
        ...sandbox,
        libraries: options.libraries,
        maxAttempts: options.buildAttempts,
      }),
    async test(source, cases) {
      const results: { name: string; passed: boolean; failures: string[]; status: string }[] = [];
      for (let start = 0; start < cases.length; start += 100) {
        const chunk = cases.slice(start, start + 100) as ToolTestCase[];
        const run = await bus.request(
          SandboxTest,
          { tool: { code: source.code, manifest: source.manifest }, tests: chunk },
          { timeoutMs: options.sandboxTimeoutMs },
        );
        // The review believes only what a trusted sandbox signed for this code and these cases:
        // a reply from anything else on the bus counts as a failed check, whatever it claims.
        const verdict = verifyTestReport(
          run.report,
          { code: source.code, manifest: source.manifest, tests: chunk },
          options.trustedSandboxKeys,
        );
        if (verdict.ok) {
          results.push(...run.results);
          continue;
        }
        if (verdict.problem === "not-passed") {
          // A genuine run with failures: its per-case results say which, for the rejection reason.
          results.push(...run.results);
          if (run.results.every((item) => item.passed))
            results.push(refusedCheck("the signed report says not every check passed"));
          continue;
        }
        options.logger.warn("sandbox test report refused", {
          problem: verdict.problem,
          reason: verdict.message,
        });
        results.push(
          refusedCheck(`the sandbox's test report did not verify (${verdict.problem}): ${verdict.message}`),
        );
      }
      return { passed: results.every((result) => result.passed), results };
    },
    async register({ barrierId, source, testReport, parents, summary, passed }) {
      const reply = await bus.request(RegistryRegister, {
        taskId: poolOf(barrierId),
        manifest: source.manifest,
        code: source.code,
        tests: source.tests,
        evidence: [
          {
            kind: "merge-check",
            summary: summary.slice(0, 2000),
            passed,
            failed: 0,
            time: now().toISOString(),
          },
        ],
        testReport,
        parents,
        origin: "merged",
      });
      return reply.hash;
    },
    absorb: (expected, changes, reason) =>
      bus.request(RegistryAbsorb, { expectedSnapshot: expected, changes, reason: reason.slice(0, 2000) }),
    async committedBy(barrierId) {
      const tag = barrierTag(barrierId);
      const log = await bus.request(RegistrySnapshots, { limit: 100 });
      return log.snapshots.find((info) => info.reason.includes(tag));
    },
    async lastBarrierSnapshot() {
      return (await state.get<{ snapshot: number }>("state"))?.value.snapshot ?? 0;
    },
    async setLastBarrierSnapshot(snapshot) {
      await state.put("state", { snapshot });
    },
    async reviewed(hash) {
      return (await state.get<{ reason: string }>(`reviewed.${hash.slice(7)}`))?.value.reason;
    },
    async markReviewed(hash, reason) {
      await state.put(`reviewed.${hash.slice(7)}`, { reason, at: now().toISOString() });
    },
  };
}

function refusedCheck(reason: string) {
  return { name: "sandbox report", passed: false, failures: [reason], status: "CRASH" };
}

/** The private pool a barrier registers its merged versions in (task ids take no dots). */
export function poolOf(barrierId: string): string {
  return `evolve-${barrierId.replace(/[^A-Za-z0-9_-]/g, "_")}`.slice(0, 128);
}

/**
 * One task's successful calls of `record`, from the task's durable events (inputs and outputs as
 * JSON text) checked against the registry's call records (which version the call reached).
 */
async function callsOfTask(
  bus: Bus,
  callsKv: KvBucket,
  taskId: string,
  record: ToolVersionRecord,
): Promise<RecordedCall[]> {
  const events = await replayEvents(bus, taskId);
  const starts = new Map<string, string>();
  const calls: RecordedCall[] = [];
  for (const event of events) {
    if (event.kind === "tool-call-start") starts.set(event.callId, event.input);
    if (event.kind !== "tool-call-end" || event.outcome !== "success") continue;
    const input = starts.get(event.callId);
    if (input === undefined) continue;
    const recorded = await callsKv.get<{ hash?: string }>(
      `call.${createHash("sha256").update(`${taskId}.${event.callId}`).digest("hex")}`,
    );
    if (recorded?.value.hash !== record.hash) continue;
    const parsedInput = parseWhole(input);
    const parsedOutput = parseWhole(event.output);
    if (parsedInput === undefined || parsedOutput === undefined) continue;
    calls.push({ callId: `${taskId}.${event.callId}`, input: parsedInput, output: parsedOutput });
  }
  return calls;
}

function parseWhole(text: string): unknown {
  if (text.length >= EVENT_TEXT_LIMIT) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A finished task's events, replayed from the stream until its task-end (or a quiet spell). */
function replayEvents(bus: Bus, taskId: string): Promise<TaskEvent[]> {
  return new Promise((resolve) => {
    const events: TaskEvent[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      subscription.unsubscribe();
      resolve(events);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, EVENT_REPLAY_IDLE_MS);
    };
    const subscription = bus.subscribe(
      TaskEvents,
      (event) => {
        events.push(event);
        if (event.kind === "task-end") setImmediate(finish);
        else arm();
      },
      { token: taskId },
    );
    arm();
  });
}
