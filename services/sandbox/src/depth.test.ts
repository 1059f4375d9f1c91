// One depth limit, counted the same way by the sandbox and the bus: an output the sandbox accepts
// decodes on the bus inside the reply that carries it. (The RawRun is a hand-made fake process result.)
import { DEFAULT_LIMITS, decodeEnvelope, encodeEnvelope } from "@insitu/bus";
import { MAX_MESSAGE_DEPTH, MAX_TOOL_OUTPUT_DEPTH, SandboxExec } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import { classifyRun } from "./classify.js";
import type { RawRun } from "./process-slot.js";

const limits = { timeoutMs: 1000, memoryMb: 128, outputBytes: 1024 * 1024 };

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = level % 2 === 0 ? [value] : { v: value };
  return value;
}

function runReturning(output: unknown): RawRun & { nonce: string } {
  const frame = `{"k":"ok","output":${JSON.stringify(output)}}`;
  return {
    stdout: Buffer.from(`\u001eN:${Buffer.byteLength(frame)}:${frame}\n`),
    stderr: Buffer.alloc(0),
    memoryExceeded: false,
    durationMs: 5,
    memoryCapBytes: 128 * 1024 * 1024,
    nonce: "N",
  };
}

describe("one depth limit for tool outputs and bus messages", () => {
  it("the bus's limit is the contracts' message depth", () => {
    expect(DEFAULT_LIMITS.maxDepth).toBe(MAX_MESSAGE_DEPTH);
    expect(MAX_TOOL_OUTPUT_DEPTH).toBeLessThan(MAX_MESSAGE_DEPTH);
  });

  it("the deepest output the sandbox accepts travels back on the bus", () => {
    const outcome = classifyRun(runReturning(nested(MAX_TOOL_OUTPUT_DEPTH)), limits);
    expect(outcome.status).toBe("ok");
    const bytes = encodeEnvelope(SandboxExec.response, outcome, { taskId: "task-1" });
    const { data } = decodeEnvelope<typeof outcome>(bytes, SandboxExec.response);
    expect(data).toEqual(outcome);
  });

  it("one level deeper is refused by the sandbox, as INVALID_OUTPUT naming the limit", () => {
    expect(classifyRun(runReturning(nested(MAX_TOOL_OUTPUT_DEPTH + 1)), limits)).toMatchObject({
      status: "INVALID_OUTPUT",
      issues: [{ message: `output nests deeper than ${MAX_TOOL_OUTPUT_DEPTH} levels` }],
    });
  });
});
