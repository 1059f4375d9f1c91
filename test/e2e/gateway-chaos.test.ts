import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";

// The gateway holds no task state: killing it while `insitu ask` is following a task must cost
// the user nothing. The CLI reconnects with Last-Event-ID, the restarted gateway replays the
// durable event stream past it, and every event is shown exactly once. Scripted (FAKE) model;
// every service, NATS and the Deno sandbox are real.

const root = findRepoRoot();
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

describe("gateway killed while a client follows a task", () => {
  it("the client reconnects to the restarted gateway and shows every event once, then the answer", async () => {
    const child = spawn(
      join(root, "bin", "insitu"),
      ["ask", "How many vowels are in the word 'encyclopedia'?", "--gateway", stack.url("gateway")],
      {
        cwd: "/",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" },
      },
    );
    let stdout = "";
    let stderr = "";
    const seen: Array<() => void> = [];
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      for (const wake of seen.splice(0)) wake();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    while (!stdout.includes("▶ task")) await new Promise<void>((resolve) => seen.push(resolve));

    // Still mid-task: the tool has yet to be written (that takes a type-check and a test run).
    expect(stdout).not.toContain("■ task");
    await stack.kill("gateway", "SIGKILL");
    await stack.restart("gateway");

    expect(await exited).toBe(0);
    expect(stderr).toBe("");
    expect(stdout.match(/▶ task /g)).toHaveLength(1);
    expect(stdout.match(/✎ writing tool count_vowels/g)).toHaveLength(1);
    expect(stdout.match(/■ task succeeded/g)).toHaveLength(1);
    expect(stdout).toMatch(/Answer:\n5/);
  });
});
