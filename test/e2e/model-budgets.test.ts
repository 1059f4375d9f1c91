import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Bus, connectBus } from "@insitu/bus";
import { RegistryFinishTask, RegistryRecordUsage, RegistryRegister, TaskEvents } from "@insitu/contracts";
import { requestBarrier } from "@insitu/evolver";
import { type MisbehavingGemini, startMisbehavingGemini } from "@insitu/llm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executorUsage, withSandboxReport } from "../harness/evidence.js";
import { type Stack, startStack } from "../harness/stack.js";
import { eventsOf, submitTask } from "./task-client.js";

/**
 * Model budgets where no task's own call is made (issue 18, ADRs 0090–0091), on real NATS and the
 * real Deno sandbox: the roles' models are the FAKE scripted ones (scenarios/model-budgets), the
 * registry's embeddings go through the real @google/genai SDK to the Gemini stand-in (FAKE
 * provider, real wire format).
 *  - a tool repair spends the task's tokens: stopped by the task's budget, its usage is charged;
 *  - the evolver's barrier stops at EVOLVER_BARRIER_TOKENS;
 *  - the registry's embedding calls show in insitu_llm_* under role "registry".
 */
const SCRIPT = fileURLToPath(new URL("./scenarios/model-budgets/model-budgets.json", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator", "evolver"];
/** What one repair draft bills in the scenario. */
const REPAIR_DRAFT_TOKENS = 600_000;
const TASK_TOKENS = 1_000_000;
const BARRIER_TOKENS = 1000;

let stack: Stack;
let bus: Bus;
let gemini: MisbehavingGemini;
let dir: string;
const logs: string[] = [];

beforeAll(async () => {
  gemini = await startMisbehavingGemini();
  dir = mkdtempSync(join(tmpdir(), "insitu-model-budgets-"));
  writeFileSync(
    join(dir, "insitu.models.json"),
    JSON.stringify({ default: { provider: "gemini", baseUrl: gemini.url, apiKeyEnv: "GEMINI_API_KEY" } }),
  );
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    env: {
      LOG_LEVEL: "warn",
      WORK_ACK_WAIT_MS: "3000",
      INSITU_MODELS_CONFIG: join(dir, "insitu.models.json"),
      GEMINI_API_KEY: "stand-in-key",
    },
    serviceEnv: {
      ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
      evolver: { INSITU_SCRIPT: SCRIPT, EVOLVER_BARRIER_TOKENS: String(BARRIER_TOKENS) },
    },
    onLog: (service, line) => logs.push(`[${service}] ${line.slice(0, 600)}`),
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-model-budgets" });
}, 90_000);

afterAll(async () => {
  await bus?.drain();
  await stack?.stop();
  await gemini?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const metricsOf = async (service: string) => (await fetch(`${stack.url(service)}/metrics`)).text();

describe("model budgets beyond the task's own calls", () => {
  it("a repair stops at the task's token budget: BUDGET_EXCEEDED, its usage charged to the task", async () => {
    const task = await submitTask(bus, "What is the sum of the list 3,4,,5?", {
      label: "repair-budget",
      budgets: { tokens: TASK_TOKENS },
      timeoutMs: 60_000,
    });
    const record = await task.done;
    const explain = JSON.stringify({ record, events: task.events.map((e) => e.kind), logs: logs.slice(-15) });
    expect(record.status, explain).toBe("budget-exceeded");
    expect(record.error?.code, explain).toBe("BUDGET_EXCEEDED");
    const repairs = eventsOf(task.events, "tool-repair-end");
    expect(repairs, explain).toHaveLength(1);
    expect(repairs[0]).toMatchObject({ tool: "sum_number_list", ok: false });
    expect(repairs[0]?.reason).toMatch(/BUDGET_EXCEEDED/);
    // Two drafts crossed what was left of the 1 M; the third was never asked for, and both are
    // the task's: plan, build and the executor's step add a few thousand estimated tokens.
    const used = record.usage.inputTokens + record.usage.outputTokens;
    expect(used, explain).toBeGreaterThanOrEqual(2 * REPAIR_DRAFT_TOKENS);
    expect(used, explain).toBeLessThan(2 * REPAIR_DRAFT_TOKENS + 50_000);
    // The build's registration embedded the tool: the registry's embedding spend is metered.
    const registry = await metricsOf("registry");
    expect(registry).toMatch(
      /insitu_llm_tokens_total\{[^}]*model="gemini-embedding-001"[^}]*role="registry"[^}]*kind="input"[^}]*\} [1-9]/,
    );
    expect(registry).toMatch(/insitu_llm_calls_total\{[^}]*role="registry"[^}]*outcome="ok"[^}]*\} [1-9]/);
    expect(gemini.server.requests.some((request) => request.path.endsWith(":batchEmbedContents"))).toBe(true);
  }, 90_000);

  it("a barrier stops at EVOLVER_BARRIER_TOKENS: the over-budget merge is not built, and the report says so", async () => {
    // count_words in the library, a rival count_words offered: one pre-cluster group.
    await seedCountWords("seed-budget-count-words", "input.text.split(' ').filter(Boolean).length");
    await seedCountWords("seed-budget-count-words-rival", "(input.text.match(/\\S+/g) ?? []).length");
    const report = await requestBarrier(bus, "budget.b1", { timeoutMs: 60_000 });
    const explain = JSON.stringify({ report, logs: logs.slice(-15) });
    expect(report.groupsFound, explain).toBe(1);
    expect(report.budgetTokens).toBe(BARRIER_TOKENS);
    expect(report.budgetExhausted, explain).toBe(true);
    // The confirm call (5000 tokens) spent the budget: no build call followed.
    expect(report.tokens, explain).toBe(5000);
    expect(report.merged).toEqual([]);
    expect(report.rejected, explain).toMatchObject([
      { members: ["count_words", "count_words"], stage: "build" },
    ]);
    expect(report.rejected[0]?.reason).toMatch(/spent its model budget/);
    const evolver = await metricsOf("evolver");
    expect(evolver).toMatch(/insitu_llm_calls_total\{[^}]*role="evolver"[^}]*outcome="ok"[^}]*\} 1/);
    expect(evolver).toMatch(/insitu_llm_tokens_total\{[^}]*role="evolver"[^}]*kind="input"[^}]*\} 4000/);
  }, 90_000);
});

/** A count_words version registered by its own task, one successful call recorded, task finished. */
async function seedCountWords(taskId: string, expression: string): Promise<void> {
  const manifest = {
    name: "count_words",
    description: "Counts the words in a text and returns the count.",
    inputSchema: {
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
      additionalProperties: false,
    },
    outputSchema: { type: "object", properties: { count: { type: "integer" } }, required: ["count"] },
    permissions: { network: [], secrets: [] },
  };
  const code = `export const manifest = ${JSON.stringify(manifest, null, 2)};\n\nexport default async function run(input: { text: string }): Promise<{ count: number }> {\n  return { count: ${expression} };\n}\n`;
  const registered = await bus.request(
    RegistryRegister,
    await withSandboxReport(bus, {
      taskId,
      manifest,
      code,
      tests: [
        { name: "two words", input: { text: "hello world" }, expect: { equals: { count: 2 } } },
        { name: "one", input: { text: "hello" }, expect: { equals: { count: 1 } } },
      ] as never,
      evidence: [
        { kind: "test-run", summary: "seeded", passed: 2, failed: 0, time: new Date().toISOString() },
      ],
    }),
  );
  await bus.request(
    RegistryRecordUsage,
    executorUsage(stack, [
      { callId: `${taskId}.r1.e1.s1.0`, taskId, hash: registered.hash, outcome: "success", latencyMs: 5 },
    ]),
  );
  await bus.publish(
    TaskEvents,
    {
      taskId,
      time: new Date().toISOString(),
      kind: "task-end",
      status: "succeeded",
      toolsUsed: ["count_words"],
      toolsCreated: ["count_words"],
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 1 },
    },
    { token: taskId, taskId },
  );
  await bus.request(RegistryFinishTask, { taskId });
}
