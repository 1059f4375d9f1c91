import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { findRepoRoot } from "../harness/stack.js";

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
});
