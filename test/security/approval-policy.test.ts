/**
 * The operator's approval policy (issue 11 point 5, docs/adr/0130) on the whole real stack: real
 * nats-server, every service its own process, tools built and run in the real Deno sandbox behind
 * the egress proxy, a local echo origin that records what reaches it. The model is the FAKE
 * scripted model (written below, like the demo scenario): it asks for a tool, writes its code and
 * calls it. The operator acts through the real `insitu review` command against the gateway.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TaskEvent, ToolVersionRecord } from "@insitu/contracts";
import { runCli } from "@insitu/cli";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../harness/chromium.js";
import { GatewayClient, type Stack, startStack } from "../harness/stack.js";

const ECHO_VALUE = "echo-key-5d1e9a0c7b";
const BANNED_VALUE = "banned-key-0f3c2a9e41";

let echo: Server;
let echoHost: string;
const seen: { authorization: string; path: string }[] = [];
let stack: Stack;
let browser: Browser | undefined;
let client: GatewayClient;
let scriptDir: string;
const logs: string[] = [];

/** A tool that GETs the echo origin with a secret in the Authorization header. */
function toolDraft(secret: string, declared: string[]) {
  return {
    code: [
      "type Input = { text: string };",
      "type Output = { status: number; error?: string };",
      "export default async function run(input: Input): Promise<Output> {",
      '  let key = "absent";',
      // Without a grant (its tests, or a version not approved) reading the variable is refused.
      `  try { key = Deno.env.get(${JSON.stringify(secret)}) ?? "absent"; } catch { key = "refused"; }`,
      `  const response = await fetch("http://${echoHost}/" + encodeURIComponent(input.text), {`,
      '    headers: { authorization: "Bearer " + key },',
      "  });",
      "  await response.text();",
      "  return { status: response.status };",
      "}",
      "",
    ].join("\n"),
    tests: [
      // Tests run without secrets: the origin answers all the same.
      { name: "the origin answers", input: { text: "selftest" }, expect: { subset: { status: 200 } } },
      { name: "text is required", input: {}, expect: { outcome: "INVALID_INPUT" } },
    ],
    permissions: { network: [echoHost], secrets: declared },
    notes: "GETs the echo origin with the key.",
  };
}

function toolRequest(name: string) {
  return {
    name,
    description: `Sends a text to the echo service (${name}) and returns the HTTP status it answered with.`,
    input_schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    output_schema: { type: "object", properties: { status: { type: "integer" }, error: { type: "string" } } },
  };
}

/** FAKE MODEL SCRIPT: task ALPHA builds and calls ping_echo; task BRAVO asks for probe_echo. */
function script() {
  const report = (word: string) => ({
    text: `## Reasoning & Plan\nUse the tool.\n\n## Key Findings & Evidence\n- ${word}\n\n## Final Conclusion\n${word}`,
  });
  return {
    description: "approval policy (scripted model)",
    roles: {
      manager: {
        rules: [
          {
            when: { lastMessageContains: "judging one Executor round" },
            reply: { json: { status: "FINISH", reason: "done" } },
          },
          ...["ALPHA:ping_echo", "BRAVO:probe_echo", "CHARLIE:notify_echo"].map((pair) => {
            const [word, name] = pair.split(":") as [string, string];
            return {
              when: { lastMessageContains: "Tool Request Protocol", anyMessageContains: word },
              reply: {
                json: {
                  required_tool_names: [],
                  tool_usage_guidance: `Call ${name} with the text ${word}.`,
                  tool_requests: [toolRequest(name)],
                },
              },
            };
          }),
        ],
      },
      "tool-developer": {
        rules: [
          {
            when: { anyMessageContains: "`ping_echo`" },
            reply: { json: toolDraft("ECHO_KEY", ["ECHO_KEY"]) },
          },
          {
            when: { anyMessageContains: "`notify_echo`" },
            reply: { json: toolDraft("ECHO_KEY", ["ECHO_KEY"]) },
          },
          {
            when: { anyMessageContains: "`probe_echo`" },
            reply: { json: toolDraft("BANNED_KEY", ["ECHO_KEY", "BANNED_KEY"]) },
          },
        ],
      },
      executor: {
        rules: [
          {
            when: { lastMessageContains: "Work on it now", anyMessageContains: "ALPHA" },
            reply: { toolCalls: [{ name: "ping_echo", arguments: { text: "ALPHA" } }] },
          },
          {
            when: { lastMessageContains: '"status":200', anyMessageContains: "ALPHA" },
            reply: report("ALPHA answered 200"),
          },
          {
            when: { lastMessageContains: "Work on it now", anyMessageContains: "CHARLIE" },
            reply: { toolCalls: [{ name: "notify_echo", arguments: { text: "CHARLIE" } }] },
          },
          {
            when: { lastMessageContains: '"status":200', anyMessageContains: "CHARLIE" },
            reply: report("CHARLIE answered 200"),
          },
          // BRAVO's tool is never bound: the round reports without it.
          {
            when: { lastMessageContains: "Work on it now", anyMessageContains: "BRAVO" },
            reply: report("no tool"),
          },
        ],
      },
      integrator: {
        rules: [
          {
            when: { anyMessageContains: "ALPHA" },
            reply: { json: { final_answer: "200", reasoning_summary: "ping_echo" } },
          },
          {
            when: { anyMessageContains: "BRAVO" },
            reply: { json: { final_answer: "Not found", reasoning_summary: "-" } },
          },
        ],
      },
    },
  };
}

/** Runs `insitu review …` in process against the stack's gateway; returns exit code and output. */
async function review(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(["review", ...args, "--gateway", stack.url("gateway")], {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env: { USER: "ops-test" },
    color: false,
  });
  return { code, out, err };
}

beforeAll(async () => {
  echo = createServer((request, response) => {
    seen.push({ authorization: String(request.headers.authorization ?? ""), path: request.url ?? "" });
    response.writeHead(200, { "content-type": "text/plain" });
    response.end("ok");
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoHost = `127.0.0.1:${(echo.address() as AddressInfo).port}`;
  scriptDir = await mkdtemp(join(tmpdir(), "insitu-approval-"));
  const scriptPath = join(scriptDir, "approval.json");
  await writeFile(scriptPath, JSON.stringify(script()));
  stack = await startStack({
    env: {
      INSITU_SCRIPT: scriptPath,
      LOG_LEVEL: "warn",
      // Hosts go to review (secrets do by default); BANNED_KEY is denied outright.
      INSITU_APPROVAL_POLICY: JSON.stringify({
        defaults: { net: "review" },
        rules: [{ permission: "secret:BANNED_KEY", decision: "deny" }],
      }),
    },
    serviceEnv: {
      sandbox: {
        SANDBOX_INTERNAL_HOSTS: echoHost,
        SANDBOX_SECRETS: `ECHO_KEY@${echoHost},BANNED_KEY@${echoHost}`,
        ECHO_KEY: ECHO_VALUE,
        BANNED_KEY: BANNED_VALUE,
      },
    },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
    onUnexpectedExit: (service, code, signal) =>
      logs.push(`${service} exited (code ${code}, signal ${signal})`),
  });
  client = new GatewayClient(stack.url("gateway"));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  if (scriptDir) await rm(scriptDir, { recursive: true, force: true });
});

/** Follows a task's events; `onEvent` may act on them (the operator reacting to a pending review). */
async function follow(taskId: string, onEvent: (event: TaskEvent) => Promise<void> | void) {
  const events: TaskEvent[] = [];
  const actions: Promise<void>[] = [];
  const end = await client.followEvents(taskId, (event) => {
    events.push(event);
    const action = onEvent(event);
    if (action) actions.push(action);
  });
  await Promise.all(actions);
  return { events, end };
}

describe("operator approval policy on the real stack", () => {
  it("a tool declaring a reviewed host waits; approved through `insitu review`, it runs with its secret", async () => {
    const { taskId } = await client.submitTask({
      question: "Ping the echo service with the word ALPHA and report its HTTP status.",
      options: { onReview: "wait", budgets: { rounds: 1 } },
    });
    let listed = "";
    let shown = "";
    let hashSeen = "";
    const { events, end } = await follow(taskId, async (event) => {
      if (event.kind !== "tool-review-pending") return;
      hashSeen = event.version;
      // The task waits: nothing has reached the echo origin, and the version is not served.
      expect(seen.filter((request) => request.path.includes("ALPHA"))).toEqual([]);
      listed = (await review("list")).out;
      shown = (await review("show", event.version.slice(7, 19))).out;
      const decided = await review("approve", event.version, "--reason", "echo origin is ours");
      expect(decided.code, decided.err).toBe(0);
    });
    expect(logs).toEqual([]);
    expect(end.status, JSON.stringify(end.error ?? {})).toBe("succeeded");

    // The operator saw the code, the tests, the permissions and the requesting task.
    expect(listed).toContain("ping_echo");
    expect(listed).toContain(`net:${echoHost} (review)`);
    expect(listed).toContain(taskId);
    expect(shown).toContain(`net:${echoHost}: review (rule default)`);
    expect(shown).toContain("secret:ECHO_KEY: review (rule default)");
    expect(shown).toContain(`requested by task: ${taskId}`);
    expect(shown).toContain("text is required");
    expect(shown).toContain('Deno.env.get("ECHO_KEY")');

    const pending = events.find((event) => event.kind === "tool-review-pending");
    expect(pending).toMatchObject({ name: "ping_echo", waiting: true });
    const built = events.find((event) => event.kind === "tool-build-end");
    expect(built).toMatchObject({ ok: true, review: "approved", version: hashSeen });
    const calls = events.filter((event) => event.kind === "tool-call-end");
    expect(calls.map((call) => (call.kind === "tool-call-end" ? call.outcome : ""))).toEqual(["success"]);
    // Approved: the executor granted the reviewed secret, and the proxy put it in for its host.
    expect(
      seen.filter((request) => request.path.includes("ALPHA")).map((request) => request.authorization),
    ).toEqual([`Bearer ${ECHO_VALUE}`]);

    // The decision is in the version's history: who, when, why.
    const record = (await client.getVersion(hashSeen)) as ToolVersionRecord;
    expect(record.review?.state).toBe("approved");
    expect(record.review?.decisions).toEqual([
      { decision: "approve", by: "ops-test", at: expect.any(String), reason: "echo origin is ours" },
    ]);
  }, 120_000);

  it("a tool declaring a denied secret is rejected at registration: never bound, the secret never sent", async () => {
    const { taskId } = await client.submitTask({
      question: "Probe the echo service with the word BRAVO and report its HTTP status.",
      options: { onReview: "wait", budgets: { rounds: 1 } },
    });
    const { events } = await follow(taskId, () => {});
    const built = events.find((event) => event.kind === "tool-build-end");
    expect(built).toMatchObject({ name: "probe_echo", ok: false, review: "rejected" });
    expect(built?.kind === "tool-build-end" ? built.reason : "").toMatch(
      /^TOOL_REJECTED: .*secret:BANNED_KEY/,
    );
    expect(events.filter((event) => event.kind === "tool-review-pending")).toEqual([]);
    expect(events.filter((event) => event.kind === "tool-call-start")).toEqual([]);
    expect(seen.some((request) => request.authorization.includes(BANNED_VALUE))).toBe(false);
    expect(seen.filter((request) => request.path.includes("BRAVO"))).toEqual([]);
    // No review can admit what the policy denies.
    const version = built?.kind === "tool-build-end" ? (built.version ?? "") : "";
    const refused = await review("approve", version, "--reason", "please");
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain("REVIEW_CONFLICT");
  }, 120_000);

  it("the dashboard shows a waiting tool's code, tests, permissions and task, and approves it (real Chromium)", async () => {
    // REAL headless Chromium (playwright-core driving /usr/bin/chromium), as test/e2e/dashboard.test.ts.
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const { taskId } = await client.submitTask({
      question: "Notify the echo service with the word CHARLIE and report its HTTP status.",
      options: { onReview: "wait", budgets: { rounds: 1 } },
    });
    let sawInPage = { code: "", permissions: "", task: "", status: "" };
    const { events, end } = await follow(taskId, async (event) => {
      if (event.kind !== "tool-review-pending") return;
      await page.goto(`${stack.url("gateway")}/`);
      const item = page.locator(`li.review[data-hash="${event.version}"]`);
      await item.waitFor({ timeout: 30_000 });
      await item.locator("summary").click();
      await item.locator(".review-code").waitFor({ timeout: 30_000 });
      sawInPage = {
        code: (await item.locator(".review-code").textContent()) ?? "",
        permissions: (await item.locator(".review-permissions").textContent()) ?? "",
        task: (await item.textContent()) ?? "",
        status: "",
      };
      await item.locator(".review-by").fill("ops-dashboard");
      await item.locator(".review-reason").fill("checked the code in the dashboard");
      await item.locator(".review-approve").click();
      await expect
        .poll(async () => item.locator(".review-status").textContent(), { timeout: 30_000 })
        .toMatch(/approved/);
      sawInPage.status = (await item.locator(".review-status").textContent()) ?? "";
    });
    const trail = JSON.stringify(events.map((event) => [event.kind, "reason" in event ? event.reason : ""]));
    expect(sawInPage.code, trail).toContain('Deno.env.get("ECHO_KEY")');
    expect(sawInPage.permissions).toContain(`net:${echoHost}: review (rule default)`);
    expect(sawInPage.permissions).toContain("secret:ECHO_KEY: review (rule default)");
    expect(sawInPage.task).toContain(taskId);
    expect(sawInPage.task).toContain("the origin answers");
    expect(sawInPage.status).toContain("task-private");
    expect(end.status, JSON.stringify(end.error ?? {})).toBe("succeeded");
    expect(events.find((event) => event.kind === "tool-build-end")).toMatchObject({
      ok: true,
      review: "approved",
    });
    expect(
      seen.filter((request) => request.path.includes("CHARLIE")).map((request) => request.authorization),
    ).toEqual([`Bearer ${ECHO_VALUE}`]);
  }, 120_000);
});
