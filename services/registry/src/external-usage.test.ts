import { createMemoryBus } from "@insitu/bus/testing";
import { LIBRARY_WATCH } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import { Buckets, Keys } from "./documents.js";
import { EXTERNAL_USAGE_BUCKET, ExternalUsage } from "./external-usage.js";

// Uses the in-memory FAKE bus (its KV has the same compare-and-set semantics as JetStream's).
describe("ExternalUsage (external MCP tool calls, apart from EGL)", () => {
  it("aggregates per tool and counts a retried call id once", async () => {
    const bus = createMemoryBus();
    const usage = new ExternalUsage(await bus.kv(EXTERNAL_USAGE_BUCKET));
    const call = {
      callId: "t1.r1.1.0",
      taskId: "t1",
      name: "files_read_file",
      version: "mcp:files/read_file",
      outcome: "success" as const,
      latencyMs: 12,
    };
    expect(await usage.record({ calls: [call] })).toEqual({ recorded: 1, duplicates: [] });
    expect(await usage.record({ calls: [call] })).toEqual({ recorded: 0, duplicates: ["t1.r1.1.0"] });
    await usage.record({ calls: [{ ...call, callId: "t1.r1.2.0", outcome: "timeout" }] });
    expect(await usage.stats()).toEqual({
      calls: 2,
      byOutcome: { success: 1, timeout: 1 },
      tools: [{ name: "files_read_file", version: "mcp:files/read_file", calls: 2, successes: 1 }],
    });
  });
});

describe("LIBRARY_WATCH (what MCP servers watch to learn the library changed)", () => {
  it("names the registry's own bucket and snapshot pointer", () => {
    expect(LIBRARY_WATCH).toEqual({ bucket: Buckets.registry, key: Keys.current });
  });
});
