import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Bus, connectBus } from "@insitu/bus";
import { TaskEvents, TaskGet, type TaskRecord, TaskSubmit } from "@insitu/contracts";
import { afterAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";

/**
 * Record and replay for a whole running stack (issue 18, point 7): a run with INSITU_RECORD_DIR
 * writes every role's model exchanges to cassettes; a fresh stack with INSITU_REPLAY_DIR and no
 * model at all answers the same task from them.
 * The recorded run's model is the FAKE scripted one (scenarios/record-replay.json); the mechanism
 * is the same for a live provider (the cassette sits above the provider).
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/record-replay.json", import.meta.url));
const ROLES = ["manager", "executor", "integrator"] as const;
const QUESTION = "How many sides does a heptagon have?";
const TASK_ID = "e2e-record-replay-1";

const dir = mkdtempSync(join(tmpdir(), "insitu-cassettes-"));
const running: { stack: Stack; bus: Bus }[] = [];

afterAll(async () => {
  for (const entry of running) {
    await entry.bus.drain();
    await entry.stack.stop();
  }
  rmSync(dir, { recursive: true, force: true });
});

async function runOnce(roleEnv: Record<string, string>, label: string): Promise<TaskRecord> {
  const stack = await startStack({
    services: ["registry", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "2000" },
    serviceEnv: Object.fromEntries(ROLES.map((role) => [role, roleEnv])),
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${label} ${service}] ${line}\n`);
    },
  });
  const bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: `e2e-${label}` });
  running.push({ stack, bus });
  const ended = new Promise<void>((resolve) => {
    bus.subscribe(
      TaskEvents,
      (event) => {
        if (event.kind === "task-end") resolve();
      },
      { token: TASK_ID },
    );
  });
  await bus.request(TaskSubmit, { question: QUESTION, taskId: TASK_ID });
  await Promise.race([
    ended,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${label}: task did not end`)), 60_000)),
  ]);
  const record = await bus.request(TaskGet, { taskId: TASK_ID });
  await bus.drain();
  await stack.stop();
  running.pop();
  return record;
}

describe("INSITU_RECORD_DIR / INSITU_REPLAY_DIR", () => {
  it("a recorded run replays offline through a fresh stack to the same answer", async () => {
    const recorded = await runOnce({ INSITU_SCRIPT: SCRIPT, INSITU_RECORD_DIR: dir }, "record");
    expect(recorded.status, JSON.stringify(recorded.error ?? {})).toBe("succeeded");
    expect(recorded.answer?.final_answer).toBe("7");
    const files = readdirSync(dir).filter((name) => name.endsWith(".json"));
    for (const role of ROLES)
      expect(
        files.some((name) => name.startsWith(`${role}-`)),
        role,
      ).toBe(true);
    const entries = files.flatMap(
      (name) => (JSON.parse(readFileSync(join(dir, name), "utf8")) as { entries: unknown[] }).entries,
    );
    expect(entries.length).toBeGreaterThanOrEqual(4);

    // No script and no provider: only the cassettes can answer.
    const replayed = await runOnce({ INSITU_REPLAY_DIR: dir }, "replay");
    expect(replayed.status, JSON.stringify(replayed.error ?? {})).toBe("succeeded");
    expect(replayed.answer?.final_answer).toBe("7");
    expect(replayed.usage.inputTokens).toBe(recorded.usage.inputTokens);
  }, 150_000);
});
