import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@insitu/bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";
import { eventsOf, submitTask } from "./task-client.js";

/**
 * Fail fast when a peer dies (issue 16 point 4; ADRs 0093, 0094), end to end: real nats-server,
 * every role its own process, tools run for real in Deno. The model is FAKE (a scripted scenario
 * written below, with the counter's port in it). The tool `bump_counter` POSTs to a counter in this
 * process (an internal host the sandbox's policy allows) — its side effect — then waits. The
 * kills are triggered by the counter seeing the call, so they land mid-request, not by a sleep.
 */
const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;
/** Restarts on a loaded 2-core machine can take long: wait for them generously. */
const READY_TIMEOUT_MS = 240_000;

interface Bump {
  tag: string;
}
const bumps: Bump[] = [];
const waiters: { tag: string; resolve: () => void }[] = [];
/** Resolves when the counter first sees `tag` (or at once if it has). */
function bumped(tag: string): Promise<void> {
  if (bumps.some((bump) => bump.tag === tag)) return Promise.resolve();
  return new Promise((resolve) => waiters.push({ tag, resolve }));
}
const count = (tag: string) => bumps.filter((bump) => bump.tag === tag).length;

let counter: Server;
let stack: Stack;
let bus: Bus;
let dir: string;

function toolCode(host: string): string {
  return [
    "type Input = { tag: string; delay_ms: number };",
    "type Output = { tag: string; count: number };",
    "",
    "export default async function run(input: Input): Promise<Output> {",
    `  const response = await fetch(\`http://${host}/bump?tag=\${encodeURIComponent(input.tag)}\`, { method: "POST" });`,
    "  const body = (await response.json()) as { count: number };",
    "  const delay = Math.min(Math.max(Math.trunc(input.delay_ms), 0), 10_000);",
    "  await new Promise((resolve) => setTimeout(resolve, delay));",
    "  return { tag: input.tag, count: body.count };",
    "}",
    "",
  ].join("\n");
}

const toolRequest = (name: string) => ({
  name,
  description:
    "Adds one to a named counter on the test host and returns the new count, after an optional wait.",
  input_schema: {
    type: "object",
    properties: {
      tag: { type: "string", description: "Counter name." },
      delay_ms: { type: "integer", description: "Milliseconds to wait after counting, 0 to 10000." },
    },
    required: ["tag", "delay_ms"],
  },
  output_schema: {
    type: "object",
    properties: { tag: { type: "string" }, count: { type: "integer" } },
  },
});

/** FAKE MODEL SCRIPT: two questions, one tool each (same code, different names and tests). */
function scenario(host: string) {
  const report = (tag: string) =>
    `## Reasoning & Plan\nCall the counter tool.\n\n## Key Findings & Evidence\n- the counter "${tag}" was bumped\n\n## Final Conclusion\ncounted ${tag}`;
  const plan = (keyword: string, name: string) => ({
    when: { lastMessageContains: "Tool Request Protocol", anyMessageContains: keyword },
    reply: {
      json: {
        required_tool_names: [],
        tool_usage_guidance: `Call ${name} once as told, then report.`,
        tool_requests: [toolRequest(name)],
      },
    },
  });
  const build = (name: string, testDelayMs: number, testTag: string) => ({
    when: { anyMessageContains: `\`${name}\`` },
    reply: {
      json: {
        code: toolCode(host),
        tests: [
          {
            name: "counts",
            input: { tag: testTag, delay_ms: testDelayMs },
            expect: { subset: { tag: testTag } },
          },
          { name: "needs a tag", input: { delay_ms: 0 }, expect: { outcome: "INVALID_INPUT" } },
        ],
        permissions: { network: [host], secrets: [] },
        notes: "Counts on the test host.",
      },
    },
  });
  const call = (keyword: string, name: string, tag: string, delayMs: number) => [
    {
      when: { lastMessageContains: "Work on it now", anyMessageContains: keyword },
      reply: { toolCalls: [{ name, arguments: { tag, delay_ms: delayMs } }] },
    },
    {
      when: { lastMessageContains: `"tag":"${tag}"`, anyMessageContains: keyword },
      reply: { text: report(tag) },
    },
  ];
  return {
    $comment: "FAKE MODEL SCRIPT written by test/e2e/fail-fast.test.ts",
    description: "fail fast when a peer dies",
    roles: {
      manager: {
        rules: [
          {
            when: { lastMessageContains: "judging one Executor round" },
            reply: { json: { status: "FINISH", reason: "The report concludes with tool evidence." } },
          },
          plan("sandbox-kill", "bump_counter"),
          plan("executor-kill", "record_visit"),
        ],
      },
      "tool-developer": {
        // The first tool's test waits 3 s so the sandbox dies in the middle of the test request.
        rules: [build("bump_counter", 3_000, "build-test"), build("record_visit", 0, "visit-test")],
      },
      executor: {
        rules: [
          ...call("sandbox-kill", "bump_counter", "alpha", 0),
          // The call waits 4 s after counting, so the executor dies while the call runs.
          ...call("executor-kill", "record_visit", "live", 4_000),
        ],
      },
      integrator: {
        rules: [
          {
            when: { anyMessageContains: "sandbox-kill" },
            reply: { json: { final_answer: "alpha", reasoning_summary: "bump_counter counted alpha." } },
          },
          {
            when: { anyMessageContains: "executor-kill" },
            reply: { json: { final_answer: "live", reasoning_summary: "record_visit counted live." } },
          },
        ],
      },
    },
  };
}

beforeAll(async () => {
  counter = createServer((request, response) => {
    const tag = new URL(request.url ?? "/", "http://counter").searchParams.get("tag") ?? "";
    bumps.push({ tag });
    for (const waiter of waiters.filter((entry) => entry.tag === tag)) waiter.resolve();
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ count: count(tag) }));
  });
  await new Promise<void>((resolve) => counter.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(counter.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), "insitu-fail-fast-"));
  const script = join(dir, "scenario.json");
  writeFileSync(script, JSON.stringify(scenario(host), null, 1));
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    readyTimeoutMs: READY_TIMEOUT_MS,
    env: {
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? "warn",
      WORK_ACK_WAIT_MS: "2000",
      // The window must cover a sandbox restart on a loaded machine (default 45 s).
      SANDBOX_RETRY_WINDOW_MS: "200000",
    },
    serviceEnv: {
      ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: script }])),
      sandbox: { SANDBOX_INTERNAL_HOSTS: host, SANDBOX_CHECK_TIMEOUT_MS: "120000" },
    },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-fail-fast" });
}, READY_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
  await new Promise((resolve) => counter?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("fail fast when a peer dies", () => {
  it("the sandbox killed (SIGKILL) during a build's test request: the build resumes, the task loses no round", async () => {
    const task = await submitTask(bus, "Count this once: sandbox-kill.", { label: "sandbox-kill" });
    await bumped("build-test");
    await stack.kill("sandbox", "SIGKILL");
    await stack.restart("sandbox");
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("alpha");
    expect(record.rounds).toHaveLength(1);
    // The build was not thrown away and redone: one start, one attempt, which passed — the test
    // request that lost its sandbox was retried within the window.
    expect(eventsOf(task.events, "tool-build-start")).toHaveLength(1);
    expect(eventsOf(task.events, "tool-build-attempt")).toMatchObject([{ result: "passed" }]);
    expect(eventsOf(task.events, "tool-build-end")).toMatchObject([{ name: "bump_counter", ok: true }]);
    // The test ran again on the restarted sandbox.
    expect(count("build-test")).toBeGreaterThanOrEqual(2);
    expect(count("alpha")).toBe(1);
  }, 600_000);

  it("the executor killed (SIGKILL) mid-call: the redelivered round reuses the call's outcome, the side effect happens once", async () => {
    const task = await submitTask(bus, "Count this once: executor-kill.", { label: "executor-kill" });
    await bumped("live");
    await stack.kill("executor", "SIGKILL");
    await stack.restart("executor");
    const record = await task.done;
    expect(record.status).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("live");
    // The round ran again (the kill interrupted it) but the tool did not.
    expect(eventsOf(task.events, "tool-call-start").length).toBeGreaterThanOrEqual(2);
    expect(count("live")).toBe(1);
    // Every end the task saw carries the one call's outcome. (Usually one end; on a loaded machine
    // the restarted executor can stall past the test's 2 s ack wait while starting and get the
    // round delivered twice — both deliveries then answer from the same call.)
    const ends = eventsOf(task.events, "tool-call-end");
    expect(ends.length).toBeGreaterThanOrEqual(1);
    for (const end of ends) expect(JSON.parse(end.output ?? "{}")).toEqual({ tag: "live", count: 1 });
    expect(record.rounds).toHaveLength(1);
  }, 600_000);
});
