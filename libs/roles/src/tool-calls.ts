import type { Bus } from "@insitu/bus";
import {
  type ContentHash,
  RegistryBindingGet,
  RegistryRecordUsage,
  SandboxExec,
  type Signer,
  type ToolCallOutcome,
  type VersionReview,
  signUsageBatch,
} from "@insitu/contracts";
import { type ApprovalPolicy, type ToolManifest, type ToolOutcome, approvedSecrets } from "@insitu/tool-kit";
import type { z } from "zod";

/**
 * A tool as a caller binds it: its manifest, its version, the hash of its code and the secrets it
 * is granted — never the code itself, which the sandbox takes by hash (docs/adr/0160).
 */
export interface BoundTool {
  manifest: ToolManifest;
  /** The version's content hash (`computeToolHash`). */
  version: string;
  /** `computeCodeHash` of the version's code. */
  codeHash: string;
  /** From {@link grantedSecretsFor}: what this version may be granted under the approval policy. */
  grantedSecrets: string[];
}

/**
 * Binds one registered version for calls (`registry.binding.get`: no code crosses the bus), with
 * the secrets granted under the operator's policy and the version's review as the registry has it
 * now. The executor's ReAct calls and MCP clients' `tools/call` both bind through it.
 */
export async function bindTool(
  bus: Bus,
  version: z.infer<typeof ContentHash>,
  policy: ApprovalPolicy,
  options: { taskId?: string } = {},
): Promise<BoundTool> {
  const binding = await bus.request(
    RegistryBindingGet,
    { by: "hash", hash: version },
    options.taskId ? { taskId: options.taskId } : {},
  );
  return {
    manifest: binding.manifest,
    version: binding.version,
    codeHash: binding.codeHash,
    grantedSecrets: grantedSecretsFor(binding.manifest, policy, binding.review),
  };
}

/**
 * The secrets a caller grants to calls of one tool version: those the manifest declares that the
 * operator's approval policy approves for this version (docs/adr/0130) — `auto`, or `review` when
 * this version's review was approved; never `deny`. The sandbox then gives the tool only those the
 * operator also configured (and binds them to their hosts), so this is the single place where
 * "what a caller grants" is decided — the executor's ReAct calls and MCP clients' `tools/call`
 * both go through it.
 */
export function grantedSecretsFor(
  manifest: ToolManifest,
  policy: ApprovalPolicy,
  review: Pick<VersionReview, "state"> | undefined,
): string[] {
  return approvedSecrets(policy, manifest, review?.state ?? "none");
}

/** Runs one call of a tool in the sandbox, under the operator's policy, as any caller must. */
export function execToolInSandbox(
  bus: Bus,
  source: BoundTool,
  input: unknown,
  options: {
    timeoutMs: number;
    taskId: string;
    /** Names the call so the sandbox runs it at most once (see `SandboxExec`'s `callKey`). */
    callKey?: string;
  },
): Promise<ToolOutcome> {
  return bus.request(
    SandboxExec,
    {
      tool: { manifest: source.manifest, codeHash: source.codeHash, version: source.version },
      input,
      grantedSecrets: source.grantedSecrets,
      // Used by the sandbox for tools declaring `files: "task"` only.
      workspace: { taskId: options.taskId, tool: source.manifest.name },
      ...(options.callKey ? { callKey: options.callKey } : {}),
    },
    { timeoutMs: options.timeoutMs, taskId: options.taskId },
  );
}

/**
 * Records one call's outcome in the registry's usage (idempotent per call id), signed with the
 * caller's key: the registry records outcomes only from the executor's or the gateway's identity
 * (ADR 0125).
 */
export async function recordToolCall(
  bus: Bus,
  signer: Signer,
  record: {
    callId: string;
    taskId: string;
    hash: z.infer<typeof ContentHash>;
    outcome: ToolCallOutcome;
    sandboxStatus?: ToolOutcome["status"];
    latencyMs: number;
  },
): Promise<void> {
  const calls = [
    {
      callId: record.callId.slice(0, 128),
      taskId: record.taskId,
      hash: record.hash,
      outcome: record.outcome,
      ...(record.sandboxStatus ? { sandboxStatus: record.sandboxStatus } : {}),
      latencyMs: record.latencyMs,
    },
  ];
  await bus.request(
    RegistryRecordUsage,
    { calls, signature: signUsageBatch(signer, calls) },
    { taskId: record.taskId },
  );
}
