import { createHash } from "node:crypto";
import { type EndpointHandler, type KvBucket, endpoint } from "@insitu/bus";
import {
  type ExternalUsageRecord,
  type ExternalUsageStats,
  type Payload,
  RegistryExternalStats,
  RegistryRecordExternalUsage,
  type Reply,
} from "@insitu/contracts";
import { ErrorCode, InsituError } from "@insitu/errors";

/** The bucket of external-tool usage: apart from the library's `registry-calls`, so EGL never sees it. */
export const EXTERNAL_USAGE_BUCKET = "registry-external";

interface ToolAggregate {
  name: string;
  version: string;
  calls: number;
  successes: number;
  byOutcome: Record<string, number>;
}

const MAX_ATTEMPTS = 10;

/**
 * Usage of external (MCP) tools. A call is stored once under its call id (create, so a retried
 * record counts once) and added to its tool's aggregate with compare-and-set.
 */
export class ExternalUsage {
  constructor(
    private readonly kv: KvBucket,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(
    request: Payload<typeof RegistryRecordExternalUsage>,
  ): Promise<Reply<typeof RegistryRecordExternalUsage>> {
    const duplicates: string[] = [];
    let recorded = 0;
    for (const call of request.calls) {
      if (await this.recordOne(call)) recorded++;
      else duplicates.push(call.callId);
    }
    return { recorded, duplicates };
  }

  private async recordOne(call: ExternalUsageRecord): Promise<boolean> {
    const callKey = `call.${createHash("sha256").update(call.callId).digest("hex")}`;
    try {
      await this.kv.create(callKey, { ...call, time: call.time ?? this.now().toISOString() });
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
    const key = `tool.${call.name}`;
    for (let attempt = 0; ; attempt++) {
      const entry = await this.kv.get<ToolAggregate>(key);
      const current = entry?.value ?? {
        name: call.name,
        version: call.version,
        calls: 0,
        successes: 0,
        byOutcome: {},
      };
      const next: ToolAggregate = {
        ...current,
        version: call.version,
        calls: current.calls + 1,
        successes: current.successes + (call.outcome === "success" ? 1 : 0),
        byOutcome: { ...current.byOutcome, [call.outcome]: (current.byOutcome[call.outcome] ?? 0) + 1 },
      };
      try {
        if (entry) await this.kv.update(key, next, entry.revision);
        else await this.kv.create(key, next);
        return true;
      } catch (error) {
        if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  async stats(): Promise<ExternalUsageStats> {
    const keys = await this.kv.keys("tool.>");
    const tools: ExternalUsageStats["tools"] = [];
    const byOutcome: Record<string, number> = {};
    let calls = 0;
    for (const key of keys) {
      const entry = await this.kv.get<ToolAggregate>(key);
      if (!entry) continue;
      const value = entry.value;
      calls += value.calls;
      for (const [outcome, count] of Object.entries(value.byOutcome))
        byOutcome[outcome] = (byOutcome[outcome] ?? 0) + count;
      tools.push({
        name: value.name,
        version: value.version,
        calls: value.calls,
        successes: value.successes,
      });
    }
    tools.sort((left, right) => right.calls - left.calls || (left.name < right.name ? -1 : 1));
    return { calls, byOutcome, tools };
  }
}

export function externalUsageEndpoints(usage: ExternalUsage): EndpointHandler[] {
  return [
    endpoint(RegistryRecordExternalUsage, (data) => usage.record(data)),
    endpoint(RegistryExternalStats, () => usage.stats()),
  ];
}

function isConflict(error: unknown): boolean {
  return error instanceof InsituError && error.code === ErrorCode.conflict;
}
