import { BATCH_INPUTS_BUCKET, BATCHES_BUCKET, BatchWork } from "./batch.js";
import type { EndpointContract, EventContract, WorkQueueContract } from "./define.js";
import { EVOLVER_BUCKET, EvolverEvents, EvolverWork } from "./evolver.js";
import { EVALS_BUCKET } from "./eval.js";
import {
  ExternalToolsList,
  LIBRARY_WATCH,
  RegistryExternalStats,
  RegistryRecordExternalUsage,
} from "./mcp.js";
import {
  RegistryAbsorb,
  RegistryCatalog,
  RegistryDiff,
  RegistryFinishTask,
  RegistryGet,
  RegistryHistory,
  RegistryList,
  RegistryRecordUsage,
  RegistryRegister,
  RegistryReviewDecide,
  RegistryReviewList,
  RegistryRollback,
  RegistrySearch,
  RegistrySeries,
  RegistrySnapshots,
  RegistryStats,
} from "./registry.js";
import { RegistryLibraryExport, RegistryLibraryImport } from "./library-transfer.js";
import {
  SandboxCheck,
  SandboxExec,
  SandboxTest,
  TOOL_CALL_CLAIMS_BUCKET,
  TOOL_CALL_RESULTS_BUCKET,
} from "./sandbox.js";
import { RegistryBindingGet, RegistryCodeGet } from "./tool-binding.js";
import {
  ExecutorRunWork,
  IntegratorRunWork,
  ManagerWork,
  TASK_STEPS_BUCKET,
  TASKS_BUCKET,
  TaskEvents,
  TaskGet,
  TaskList,
  TaskSubmit,
  ToolBuildWork,
  ToolRepair,
} from "./task.js";

/**
 * Who may do what on the bus (issue 11 point 3, docs/adr/0120). Each role's grant lists the
 * contracts it serves, calls, consumes, enqueues, publishes and subscribes to, and the KV buckets
 * and object stores it writes or only reads. `@insitu/bus` (auth.ts) turns a grant into the
 * nats-server `permissions` of that role's user: a role may publish only the subjects of the
 * contracts it calls, enqueues or publishes, and subscribe only to what it serves or listens to —
 * so the executor cannot publish `registry.register`, and nobody but the registry can write its KV.
 *
 * Names are *relative* (no prefix), as in the contracts. Buckets defined outside this package are
 * spelled here with the file that owns them; the coverage test (grants.test.ts) checks every
 * contract a service's source names is in its grant.
 */
export const BUS_ROLES = [
  "gateway",
  "manager",
  "tool-developer",
  "executor",
  "integrator",
  "sandbox",
  "registry",
  "evolver",
] as const;
export type BusRole = (typeof BUS_ROLES)[number];

/** The operator's user (CLI, tests, scripts): every subject. Never given to a service. */
export const ADMIN_USER = "insitu-admin";

export interface RoleGrant {
  /** Endpoints this role answers (subscribe, queue group = service name). */
  readonly serves: readonly EndpointContract[];
  /** Endpoints this role sends requests to (publish). */
  readonly calls: readonly EndpointContract[];
  /** Work queues this role takes work from (pull consumer; may dead-letter). */
  readonly consumes: readonly WorkQueueContract[];
  /** Work queues this role puts work on (JetStream publish). */
  readonly enqueues: readonly WorkQueueContract[];
  /** Events this role emits. */
  readonly publishes: readonly EventContract[];
  /** Events this role listens to. */
  readonly subscribes: readonly EventContract[];
  /** KV buckets this role writes (relative names); it may read them too. */
  readonly kvWrites: readonly string[];
  /** Object stores this role writes (relative names); it may read them too. */
  readonly objectWrites: readonly string[];
  /** KV buckets this role only reads: JetStream reads, never a `$KV.<bucket>` publish (ADR 0171). */
  readonly kvReads: readonly string[];
}

// Buckets owned by packages that sit above @insitu/contracts (they import it, not the reverse).
/** services/registry/src/documents.ts `Buckets`. */
const REGISTRY_BUCKETS = ["registry", "registry-calls", "registry-blobs"] as const;
/** services/registry/src/external-usage.ts `EXTERNAL_USAGE_BUCKET`. */
const REGISTRY_EXTERNAL_BUCKET = "registry-external";
/** libs/roles/src/rate-limit-gate.ts `LLM_COOLDOWNS_BUCKET` (every role that calls a model). */
const LLM_COOLDOWNS_BUCKET = "llm-cooldowns";
/** libs/files/src/store.ts: task workspaces (index KV, bytes in an object store). */
const WORKSPACE_INDEX_BUCKET = "workspace-index";
const WORKSPACE_OBJECTS_BUCKET = "workspace-files";

/** services/tool-developer `sandboxPorts`: check, test, and a trial run (the evolver reuses them to build merges). */
const SANDBOX_PORTS = [SandboxCheck, SandboxTest, SandboxExec] as const;

/**
 * A tool call from a role: the registry binds it (manifest and code hash, no code, ADR 0160), the
 * sandbox runs it, the registry records its outcome.
 */
const TOOL_CALLS = [RegistryBindingGet, SandboxExec, RegistryRecordUsage] as const;

const grant = (partial: Partial<RoleGrant>): RoleGrant => ({
  serves: [],
  calls: [],
  consumes: [],
  enqueues: [],
  publishes: [],
  subscribes: [],
  kvWrites: [],
  objectWrites: [],
  kvReads: [],
  ...partial,
});

export const ROLE_GRANTS: Readonly<Record<BusRole, RoleGrant>> = {
  gateway: grant({
    calls: [
      TaskSubmit,
      TaskGet,
      TaskList,
      RegistryGet,
      RegistryList,
      RegistryHistory,
      RegistrySearch,
      RegistryStats,
      RegistrySeries,
      RegistrySnapshots,
      RegistryRollback,
      // operator review (ADR 0130): only the gateway (API, dashboard, `insitu review`) decides
      RegistryReviewList,
      RegistryReviewDecide,
      // the library as an MCP server (libs/mcp bus-library): tool calls from MCP clients
      ...TOOL_CALLS,
    ],
    // batch runs (libs/batch) are driven from the gateway
    consumes: [BatchWork],
    enqueues: [BatchWork, EvolverWork],
    subscribes: [TaskEvents],
    kvWrites: [BATCHES_BUCKET, EVOLVER_BUCKET, WORKSPACE_INDEX_BUCKET],
    objectWrites: [BATCH_INPUTS_BUCKET, WORKSPACE_OBJECTS_BUCKET],
    // eval results (written by `insitu eval`, the admin) and the library watch (the registry's)
    kvReads: [EVALS_BUCKET, LIBRARY_WATCH.bucket],
  }),
  manager: grant({
    serves: [TaskSubmit, TaskGet, TaskList],
    calls: [ExternalToolsList, RegistrySearch, RegistryFinishTask, RegistryCatalog],
    consumes: [ManagerWork],
    enqueues: [ManagerWork, ToolBuildWork, ExecutorRunWork, IntegratorRunWork],
    publishes: [TaskEvents],
    kvWrites: [TASKS_BUCKET, TASK_STEPS_BUCKET, LLM_COOLDOWNS_BUCKET],
  }),
  "tool-developer": grant({
    serves: [ToolRepair],
    calls: [RegistryRegister, RegistryGet, ...SANDBOX_PORTS],
    consumes: [ToolBuildWork],
    enqueues: [ManagerWork],
    publishes: [TaskEvents],
    kvWrites: [TASK_STEPS_BUCKET, LLM_COOLDOWNS_BUCKET],
  }),
  executor: grant({
    serves: [ExternalToolsList],
    calls: [RegistryRecordExternalUsage, ToolRepair, ...TOOL_CALLS],
    consumes: [ExecutorRunWork],
    enqueues: [ManagerWork],
    publishes: [TaskEvents],
    kvWrites: [TASK_STEPS_BUCKET, TOOL_CALL_CLAIMS_BUCKET, LLM_COOLDOWNS_BUCKET, WORKSPACE_INDEX_BUCKET],
    objectWrites: [TOOL_CALL_RESULTS_BUCKET, WORKSPACE_OBJECTS_BUCKET],
  }),
  integrator: grant({
    consumes: [IntegratorRunWork],
    enqueues: [ManagerWork],
    publishes: [TaskEvents],
    kvWrites: [TASK_STEPS_BUCKET, LLM_COOLDOWNS_BUCKET],
  }),
  sandbox: grant({
    serves: [SandboxExec, SandboxCheck, SandboxTest],
    // the code of a registered tool, once per content hash (ADR 0160)
    calls: [RegistryCodeGet],
    kvWrites: [TOOL_CALL_CLAIMS_BUCKET, WORKSPACE_INDEX_BUCKET],
    objectWrites: [TOOL_CALL_RESULTS_BUCKET, WORKSPACE_OBJECTS_BUCKET],
  }),
  registry: grant({
    serves: [
      RegistryRegister,
      RegistryAbsorb,
      RegistryGet,
      RegistryBindingGet,
      RegistryCodeGet,
      RegistryList,
      RegistryHistory,
      RegistrySnapshots,
      RegistryDiff,
      RegistryRollback,
      RegistrySearch,
      RegistryRecordUsage,
      RegistryStats,
      RegistryFinishTask,
      RegistryCatalog,
      RegistrySeries,
      RegistryRecordExternalUsage,
      RegistryExternalStats,
      RegistryReviewList,
      RegistryReviewDecide,
      // `insitu library export|import` and a batch's folder warm start (admin user, ADR 0165)
      RegistryLibraryExport,
      RegistryLibraryImport,
    ],
    kvWrites: [...REGISTRY_BUCKETS.filter((bucket) => bucket !== "registry-blobs"), REGISTRY_EXTERNAL_BUCKET],
    objectWrites: ["registry-blobs"],
  }),
  evolver: grant({
    calls: [
      RegistryRegister,
      RegistryAbsorb,
      RegistryGet,
      RegistryList,
      RegistrySnapshots,
      RegistryDiff,
      // merges are built with the tool developer's code (developTool, sandboxPorts)
      ...SANDBOX_PORTS,
    ],
    consumes: [EvolverWork],
    // its own scheduler enqueues barriers too (services/evolver/src/main.ts)
    enqueues: [EvolverWork],
    publishes: [EvolverEvents],
    subscribes: [TaskEvents],
    kvWrites: [EVOLVER_BUCKET, LLM_COOLDOWNS_BUCKET],
    // services/evolver/src/adapters.ts reads the registry's documents and call log
    kvReads: ["registry", "registry-calls"],
  }),
};

/** Buckets read by roles that do not write them (from the grants' `kvReads`). */
export const READ_ONLY_BUCKETS: Readonly<Partial<Record<BusRole, readonly string[]>>> = Object.fromEntries(
  BUS_ROLES.filter((role) => ROLE_GRANTS[role].kvReads.length > 0).map((role) => [
    role,
    ROLE_GRANTS[role].kvReads,
  ]),
);

/** A role's permissions as relative subjects (auth.ts prefixes them and adds the JetStream plumbing). */
export interface RelativePermissions {
  /** Relative subjects this role may publish on. */
  publish: string[];
  /** Relative subjects this role may subscribe to. */
  subscribe: string[];
  /** Relative work-queue subjects this role consumes (their dead letters are its to write). */
  consumed: string[];
  /** Relative stream names of the work queues this role consumes (acks). */
  consumedStreams: string[];
  /** Relative stream names of the work queues this role enqueues into. */
  enqueuedStreams: string[];
  /** Relative stream names of the durable events this role emits. */
  eventStreamsWritten: string[];
  /** Relative stream names of the durable events this role replays (subscribes to with a stream). */
  eventStreamsRead: string[];
  kvWrites: string[];
  objectWrites: string[];
  /** KV buckets this role reads and does not write. */
  kvReads: string[];
}

export function relativePermissions(role: BusRole): RelativePermissions {
  const g = ROLE_GRANTS[role];
  const unique = (values: string[]) => [...new Set(values)].sort();
  return {
    publish: unique([
      ...g.calls.map((c) => c.subject),
      ...g.enqueues.map((c) => c.subject),
      ...g.publishes.map((c) => c.subject),
    ]),
    subscribe: unique([
      ...g.serves.map((c) => c.subject),
      ...g.subscribes.map((c) => c.subject),
      // the `status` endpoint every service announces (libs/runtime announce)
      `status.${role}`,
    ]),
    consumed: unique(g.consumes.map((c) => c.subject)),
    consumedStreams: unique(g.consumes.map((c) => c.stream)),
    enqueuedStreams: unique(g.enqueues.map((c) => c.stream)),
    eventStreamsWritten: unique(g.publishes.flatMap((c) => (c.stream ? [c.stream] : []))),
    eventStreamsRead: unique(g.subscribes.flatMap((c) => (c.stream ? [c.stream] : []))),
    kvWrites: unique([...g.kvWrites]),
    objectWrites: unique([...g.objectWrites]),
    kvReads: unique(g.kvReads.filter((bucket) => !g.kvWrites.includes(bucket))),
  };
}
