import type { Bus } from "@insitu/bus";
import { LIBRARY_WATCH, RegistryList, type Signer, usageOutcomeOf } from "@insitu/contracts";
import {
  type BoundTool,
  bindTool,
  execToolInSandbox,
  loadApprovalPolicy,
  recordToolCall,
} from "@insitu/roles";
import type { ApprovalPolicy } from "@insitu/tool-kit";
import type { LibraryPort, LibraryTool } from "./library-catalog.js";

/** Most versions kept in the source cache (versions are immutable; this only bounds memory). */
const SOURCE_CACHE = 2000;

/**
 * The library over the bus: lists through `registry.list` + `registry.binding.get`, runs through
 * `sandbox.exec` with the executor's own grant logic, records through `registry.record-usage`,
 * and learns of every new snapshot by watching the registry's `current` pointer.
 */
export function busLibraryPort(
  bus: Bus,
  options: {
    sandboxTimeoutMs: number;
    /** The operator's approval policy (docs/adr/0130); default: `INSITU_APPROVAL_POLICY`. */
    approvalPolicy?: ApprovalPolicy;
    /** Signs the usage it records: the registry takes outcomes only from trusted keys (ADR 0125). */
    signer: Signer;
  },
): LibraryPort {
  const policy = options.approvalPolicy ?? loadApprovalPolicy();
  const sources = new Map<string, Promise<BoundTool>>();
  const source = (hash: string): Promise<BoundTool> => {
    let cached = sources.get(hash);
    if (!cached) {
      // Manifest and code hash, no code (ADR 0160). Library versions are admitted; a reviewed
      // secret still needs this version's approval.
      cached = bindTool(bus, hash, policy);
      cached.catch(() => sources.delete(hash));
      if (sources.size >= SOURCE_CACHE) sources.delete(sources.keys().next().value as string);
      sources.set(hash, cached);
    }
    return cached;
  };
  return {
    async snapshot() {
      const tools: LibraryTool[] = [];
      let snapshot: number | undefined;
      for (let offset = 0; ; ) {
        const page = await bus.request(RegistryList, {
          scope: "library",
          limit: 1000,
          offset,
          ...(snapshot === undefined ? {} : { snapshot }),
        });
        snapshot ??= page.snapshot;
        const loaded = await Promise.all(
          page.tools.map(async (summary) => ({
            name: summary.name,
            hash: summary.hash,
            manifest: (await source(summary.hash)).manifest,
            usage: summary.usage,
          })),
        );
        tools.push(...loaded);
        offset += page.tools.length;
        if (page.tools.length === 0 || offset >= page.total) break;
      }
      return { snapshot: snapshot ?? 0, tools };
    },
    source,
    exec: (toolSource, input, callerId) =>
      execToolInSandbox(bus, toolSource, input, { timeoutMs: options.sandboxTimeoutMs, taskId: callerId }),
    record: (call) =>
      recordToolCall(bus, options.signer, {
        callId: call.callId,
        taskId: call.callerId,
        hash: call.hash,
        outcome: usageOutcomeOf(call.outcome),
        sandboxStatus: call.outcome,
        latencyMs: call.latencyMs,
      }),
    async watch(onChange) {
      const kv = await bus.kv(LIBRARY_WATCH.bucket);
      return kv.watch(() => onChange(), LIBRARY_WATCH.key);
    },
  };
}
