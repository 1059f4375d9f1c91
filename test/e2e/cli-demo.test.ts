import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { findRepoRoot, startStack } from "../harness/stack.js";

// `insitu demo` exactly as a newcomer runs it: its own throw-away stack, every real service, the
// Deno sandbox — and a SCRIPTED model, which it must say plainly.

const run = promisify(execFile);
const insitu = join(findRepoRoot(), "bin", "insitu");

describe("insitu demo", () => {
  it("says the answers are scripted, shows a tool written, tested, registered, reused and repaired, and prints the figures", async () => {
    const { stdout } = await run(insitu, ["demo"], {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" },
      timeout: 150_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout.split("\n")[0]).toBe("insitu demo — the model's answers in this run are SCRIPTED.");
    expect(stdout).toContain("✎ writing tool count_vowels");
    expect(stdout).toMatch(/✔ registered count_vowels \(sha256:/);
    expect(stdout).toMatch(/planning round 1: 1 candidate tool retrieved; reusing count_vowels/);
    expect(stdout).toMatch(/✔ repaired sum_number_list/);
    expect(stdout).toContain("Q1 succeeded: created count_vowels; reused none");
    expect(stdout).toContain("Q2 succeeded: created no tools; reused count_vowels");
    expect(stdout).toMatch(/tools created {3}2\b/);
    expect(stdout).toMatch(/tool calls {6}4\b/);
    expect(stdout).toMatch(/EGL {13}0\.\d{3}/);
    expect(stdout).toMatch(/library size {4}2\b/);
    expect(stdout).toContain("The model's answers above were SCRIPTED.");
    expect(stdout).toContain("Done. (Your own library was not touched");
  });

  it("with --keep, leaves its library in the local stack: `insitu tools` lists the demo's tools", async () => {
    // The "local stack": a real nats-server with the registry and the gateway (what `tools` reads).
    const local = await startStack({
      services: ["registry", "gateway"],
      env: { LOG_LEVEL: "warn" },
      onLog: () => {},
    });
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      NO_COLOR: "1",
    };
    const tools = async (): Promise<string> =>
      (await run(insitu, ["tools", "--gateway", local.url("gateway")], { cwd: "/", env })).stdout;
    try {
      expect(await tools()).toMatch(/^Library snapshot \d+: 0 tools/);
      const { stdout } = await run(
        insitu,
        ["demo", "--keep", "--json", "--nats", local.natsUrl, "--prefix", local.prefix],
        { cwd: "/", env, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      );
      const figures = JSON.parse(stdout) as { kept?: { tools: number; created: number } };
      expect(figures.kept).toMatchObject({ tools: 2, created: 2 });
      const listed = await tools();
      expect(listed).toMatch(/^Library snapshot \d+: 2 tools/);
      expect(listed).toContain("count_vowels");
      expect(listed).toContain("sum_number_list");
    } finally {
      await local.stop();
    }
  });

  it("--keep without a local stack refuses before starting anything", async () => {
    const result = await run(insitu, ["demo", "--keep"], {
      cwd: "/",
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? "/tmp",
        NO_COLOR: "1",
        INSITU_DATA_DIR: "/nonexistent-insitu-data",
      },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("start it with `insitu up` first");
  });
});
