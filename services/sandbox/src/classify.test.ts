import { describe, expect, it } from "vitest";
import { classifyRun, findPermission, trimStack } from "./classify.js";
import type { RawRun } from "./process-slot.js";

const limits = { timeoutMs: 1000, memoryMb: 128, outputBytes: 1000 };
function run(overrides: Partial<RawRun> & { frame?: string }): RawRun & { nonce: string } {
  const frame =
    overrides.frame === undefined ? "" : `\u001eN:${Buffer.byteLength(overrides.frame)}:${overrides.frame}\n`;
  return {
    stdout: Buffer.from(frame),
    stderr: Buffer.alloc(0),
    memoryExceeded: false,
    durationMs: 5,
    memoryCapBytes: 128 * 1024 * 1024,
    nonce: "N",
    ...overrides,
  };
}

describe("classifyRun", () => {
  it("trusts what the sandbox and the kernel did over what the process wrote", () => {
    const ok = '{"k":"ok","output":1}';
    expect(classifyRun(run({ frame: ok, killedFor: "timeout" }), limits).status).toBe("TIMEOUT");
    expect(classifyRun(run({ frame: ok, killedFor: "output-limit" }), limits).status).toBe("OUTPUT_LIMIT");
    expect(classifyRun(run({ frame: ok, memoryExceeded: true }), limits).status).toBe("MEMORY_LIMIT");
    expect(classifyRun(run({ frame: ok }), limits)).toMatchObject({ status: "ok", output: 1 });
  });

  it("maps signals and V8 out-of-memory", () => {
    expect(classifyRun(run({ signal: "SIGXCPU" }), limits).status).toBe("TIMEOUT");
    expect(classifyRun(run({ signal: "SIGXFSZ" }), limits).status).toBe("OUTPUT_LIMIT");
    expect(
      classifyRun(
        run({ signal: "SIGTRAP", stderr: Buffer.from("Fatal JavaScript out of memory: Reached heap limit") }),
        limits,
      ).status,
    ).toBe("MEMORY_LIMIT");
    expect(classifyRun(run({ exitCode: 0 }), limits)).toMatchObject({
      status: "CRASH",
      message: /before returning a result/,
    });
  });

  it("refuses two frames as tampering", () => {
    const frame = '{"k":"ok","output":1}';
    const twice = run({ frame });
    twice.stdout = Buffer.concat([twice.stdout, twice.stdout]);
    expect(classifyRun(twice, limits)).toMatchObject({ status: "CRASH", message: /tampered/ });
  });

  it("names the permission of a denial", () => {
    const frame = JSON.stringify({
      k: "error",
      name: "NotCapable",
      message: 'Requires net access to "example.com:443", run again with the --allow-net flag',
      stack: "",
      cause: "",
    });
    expect(classifyRun(run({ frame }), limits)).toMatchObject({
      status: "PERMISSION_DENIED",
      permission: { kind: "net", target: "example.com:443" },
    });
    expect(
      findPermission(
        'A remote specifier was requested: "https://x.example/a.ts", but --no-remote is specified.',
      ),
    ).toEqual({
      kind: "import",
      target: "https://x.example/a.ts",
    });
    expect(findPermission("Requires env access, run again with the --allow-env flag")).toEqual({
      kind: "env",
    });
  });

  it("keeps only the tool's frames in a stack and hides the module URL", () => {
    const stack =
      "Error: boom\n    at run (data:application/typescript;base64,QUJD......REVG:3:7)\n    at file:///x/runner.js:120:5";
    expect(trimStack(stack)).toBe("Error: boom\n    at run (tool.ts:3:7)");
  });
});
