import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connectBus } from "@insitu/bus";
import type { TaskRecord } from "@insitu/contracts";
import { Registry, registryEndpoints } from "@insitu/registry";
import { createLogger } from "@insitu/telemetry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";

// `insitu ask` through every real service (real nats-server, real Deno sandbox). The model is the
// FAKE scripted model of the demo scenario: its answers are written by hand in
// test/e2e/scenarios/demo/demo.json; the tool's code, its tests and its calls run for real.

const run = promisify(execFile);
const root = findRepoRoot();
const insitu = join(root, "bin", "insitu");
const cleanEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/tmp",
  NO_COLOR: "1",
};
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    env: { INSITU_SCRIPT: join(root, "test/e2e/scenarios/demo/demo.json"), LOG_LEVEL: "warn" },
    onLog: () => {},
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function ask(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(insitu, ["ask", ...args, "--gateway", stack.url("gateway")], {
    cwd: "/",
    env: cleanEnv,
    timeout: 120_000,
  }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

describe("insitu ask through the whole stack", () => {
  it("shows the tool being written, tested, registered and called, then the answer and figures", async () => {
    const { code, stdout, stderr } = await ask("How many vowels are in the word 'encyclopedia'?");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/● planning round 1: .*new tools needed: count_vowels/);
    expect(stdout).toContain("✎ writing tool count_vowels");
    expect(stdout).toMatch(/attempt \d+ of count_vowels: type-checked and tested/);
    expect(stdout).toMatch(/✔ registered count_vowels \(sha256:[0-9a-f]{12}…\)/);
    expect(stdout).toMatch(/→ calling count_vowels\(.*encyclopedia.*\)/);
    expect(stdout).toMatch(/← count_vowels: success in \d+ ms/);
    expect(stdout).toMatch(/Answer:\n.*5/);
    expect(stdout).toContain("Tools created: count_vowels");
    expect(stdout).toMatch(/Tool calls: [1-9]\d*\s+Tokens: [\d,]+ in \/ [\d,]+ out\s+Cost: \$/);
  });

  it("with --json prints only the final record; the second question reuses the tool and creates none", async () => {
    const { code, stdout } = await ask("Count the vowels in 'onomatopoeia'.", "--json");
    expect(code).toBe(0);
    const record = JSON.parse(stdout) as TaskRecord;
    expect(record.status).toBe("succeeded");
    expect(record.toolsCreated).toEqual([]);
    expect(record.toolsUsed).toContain("count_vowels");
    expect(record.answer?.final_answer).toContain("8");
  });

  it("lists the library with usage, and ranks it for a query", async () => {
    const gateway = ["--gateway", stack.url("gateway")];
    const listed = await run(insitu, ["tools", ...gateway], { cwd: "/", env: cleanEnv });
    expect(listed.stdout).toMatch(/^Library snapshot \d+: 1 tool\n {2}count_vowels {2}2 calls, 100% ok/);
    const ranked = await run(insitu, ["tools", "vowels in a word", ...gateway], { cwd: "/", env: cleanEnv });
    expect(ranked.stdout).toMatch(
      /^Tools for "vowels in a word" .*best first:\n {2}count_vowels {2}score \d/,
    );
  });

  it("exports the library to plain folders and imports it into another library", async () => {
    let copyBus: Awaited<ReturnType<typeof connectBus>> | undefined;
    let copyRegistry: Registry | undefined;
    const dir = await mkdtemp(join(tmpdir(), "insitu-library-"));
    const copy = await mkdtemp(join(tmpdir(), "insitu-library-copy-"));
    try {
      const target = ["--nats", stack.natsUrl, "--prefix", stack.prefix];
      const exported = await run(insitu, ["library", "export", dir, ...target], { cwd: "/", env: cleanEnv });
      expect(exported.stdout).toMatch(/^Exported 1 tool\(s\) of library snapshot \d+ to /);
      expect((await readdir(dir)).sort()).toEqual(["count_vowels", "library.json"]);
      const module = await readFile(join(dir, "count_vowels", "module.ts"), "utf8");
      expect(module).toContain("export default");

      // Into an empty library under another prefix on the same NATS, then out again: same code.
      // The CLI reaches a library only through a registry's endpoints (ADR 0165): with none
      // serving that prefix it says so, and one is started there for the copy.
      const other = ["--nats", stack.natsUrl, "--prefix", `${stack.prefix}-copy`];
      const unserved = await run(insitu, ["library", "import", dir, ...other], {
        cwd: "/",
        env: cleanEnv,
      }).catch((error: { code: number; stderr: string }) => error);
      expect(unserved).toMatchObject({
        code: 4,
        stderr: expect.stringMatching(
          /^No registry answers under prefix .*-copy at .*is the stack running\?/,
        ),
      });
      copyBus = await connectBus({
        url: stack.natsUrl,
        prefix: `${stack.prefix}-copy`,
        name: "copy-registry",
      });
      copyRegistry = await Registry.open(copyBus, {
        logger: createLogger({ service: "copy-registry", level: "error" }),
      });
      await copyBus.serve({
        name: "registry",
        version: "0.1.0",
        description: "the copy's registry",
        endpoints: registryEndpoints(copyRegistry),
      });
      const imported = await run(insitu, ["library", "import", dir, ...other, "--json"], {
        cwd: "/",
        env: cleanEnv,
      });
      expect(JSON.parse(imported.stdout)).toMatchObject({ tools: 1, created: 1, edited: [] });
      await run(insitu, ["library", "export", copy, ...other], { cwd: "/", env: cleanEnv });
      expect(await readFile(join(copy, "count_vowels", "module.ts"), "utf8")).toBe(module);
    } finally {
      copyRegistry?.stop();
      await copyBus?.drain();
      await rm(dir, { recursive: true, force: true });
      await rm(copy, { recursive: true, force: true });
    }
  });

  it("says exactly what to set when no model is configured and no stack is given", async () => {
    const result = await run(insitu, ["ask", "What is 2+2?"], { cwd: "/", env: cleanEnv }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("GEMINI_API_KEY");
    expect(result.stderr).toContain("INSITU_OPENAI_BASE_URL");
    expect(result.stderr).toContain("insitu demo");
  });
});
