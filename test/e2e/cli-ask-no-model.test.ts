import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";

// `insitu ask` against a stack started WITHOUT a model (no INSITU_SCRIPT, no key, an empty models
// config): the roles start and report "none" through $SRV. The ask terminal has GEMINI_API_KEY
// set — the operator's mistake of exporting it in the wrong terminal — so ask must say to set it
// where `insitu up` runs and restart it, not to export it again. Real nats-server, real roles; no
// model is called (ask stops before submitting).

const run = promisify(execFile);
const root = findRepoRoot();
const insitu = join(root, "bin", "insitu");
const ROLES = ["manager", "tool-developer", "executor", "integrator"];
let stack: Stack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "insitu-nomodel-"));
  const emptyConfig = join(dir, "insitu.models.json");
  await writeFile(emptyConfig, "{}\n");
  stack = await startStack({
    services: ROLES,
    env: {
      LOG_LEVEL: "warn",
      INSITU_SCRIPT: "",
      GEMINI_API_KEY: "",
      INSITU_OPENAI_BASE_URL: "",
      INSITU_MODELS_CONFIG: emptyConfig,
    },
    onLog: () => {},
  });
});

afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function ask(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ["ask", "What is 2+2?", "--nats", stack.natsUrl, "--prefix", stack.prefix];
  // No gateway runs: ask must decide from what the roles report, before submitting anything.
  args.push("--gateway", "http://127.0.0.1:1");
  return run(insitu, args, {
    cwd: "/",
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      NO_COLOR: "1",
      ...env,
    },
  }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("insitu ask when the running stack has no model", () => {
  it("with the key only in the ask terminal: says to set it where `insitu up` runs and restart up", async () => {
    const result = await ask({ GEMINI_API_KEY: "set-in-the-wrong-terminal" });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      "The running stack has no model for executor, integrator, manager, tool-developer",
    );
    expect(result.stderr).toContain("setting it here does not reach the services");
    expect(result.stderr).toContain("start `insitu up` again");
    expect(result.stderr).toContain("insitu.models.json");
    expect(result.stderr).not.toContain("export GEMINI_API_KEY");
  });

  it("with no key anywhere: says what to set in the terminal that runs `insitu up`", async () => {
    const result = await ask({});
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("In the terminal that runs `insitu up`");
    expect(result.stderr).toContain("GEMINI_API_KEY");
    expect(result.stderr).toContain("insitu demo");
  });
});
