import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@insitu/bus";
import { SseParser } from "@insitu/cli";
import { TaskEvents } from "@insitu/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../harness/chromium.js";
import { type Stack, startStack } from "../harness/stack.js";
import { scenarioQuestions, scenarioScript } from "./scenarios/batch/script.js";

/**
 * Batch runs over HTTP end to end: real nats-server, every role its own process, the real Deno
 * sandbox, the FAKE scripted model (scenarios/batch/script.ts, the scenario of batch.test.ts) and
 * the real gateway process — SIGKILLed half-way through the run and started again. The dashboard's
 * Batches panel is then read in REAL headless Chromium (playwright-core driving /usr/bin/chromium).
 */
const ROLES = ["manager", "tool-developer", "executor", "integrator", "evolver"] as const;
let stack: Stack;
let bus: Bus;
let work: string;
const taskStarts = new Map<string, number>();
let startsSubscription: { unsubscribe(): void } | undefined;
let finishedRunId: string | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "insitu-batch-api-e2e-"));
  const script = join(work, "script.json");
  await writeFile(script, JSON.stringify(scenarioScript(), null, 2));
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES, "gateway"],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "3000" },
    serviceEnv: {
      ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: script }])),
      // One build at a time (see batch.test.ts: parallel `deno check`s overrun the check limit here).
      "tool-developer": { INSITU_SCRIPT: script, BUILD_CONCURRENCY: "1" },
      // A killed gateway's run is redelivered after this (its beats stop).
      gateway: { GATEWAY_BATCH_ACK_WAIT_MS: "3000" },
    },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-batch-api" });
  // Every task-start of the whole test, counted live (the stream also replays what came before).
  startsSubscription = bus.subscribe(TaskEvents, (event) => {
    if (event.kind === "task-start") taskStarts.set(event.taskId, (taskStarts.get(event.taskId) ?? 0) + 1);
  });
}, 120_000);

afterAll(async () => {
  startsSubscription?.unsubscribe();
  await bus?.drain();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Event {
  event: string;
  data: Record<string, unknown>;
}

/**
 * Follows `GET /v1/batches/:id/events` until the stream ends (returns true) or `stopWhen` says so
 * (returns false, leaving the stream) — or the connection breaks (the gateway was killed: false).
 */
async function follow(url: string, events: Event[], stopWhen: (event: Event) => boolean): Promise<boolean> {
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      for (const raw of parser.push(decoder.decode(chunk, { stream: true }))) {
        const event = { event: raw.event, data: JSON.parse(raw.data) as Record<string, unknown> };
        events.push(event);
        if (stopWhen(event)) {
          abort.abort();
          return false;
        }
      }
    }
    return true;
  } catch (error) {
    if (abort.signal.aborted) return false;
    if ((error as Error).name === "TypeError" || /terminated|socket|ECONNRESET/i.test(String(error)))
      return false;
    throw error;
  }
}

describe("POST /v1/batches", () => {
  it("refuses a bad questions file naming the line, and starts nothing", async () => {
    const response = await fetch(`${stack.url("gateway")}/v1/batches`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: '{"id": "a", "question": "ok?"}\n{"id": "b", "question": "  "}\n',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({
      code: "BATCH_INPUT_INVALID",
      message: 'line 2: the "question" is missing or empty',
    });
    const list = (await (await fetch(`${stack.url("gateway")}/v1/batches`)).json()) as { batches: unknown[] };
    expect(list.batches).toEqual([]);
    expect(taskStarts.size).toBe(0);
  });

  it("runs 3 batches over HTTP, survives a SIGKILLed gateway, and runs every task exactly once", async () => {
    const questions = scenarioQuestions();
    const body = `${questions.map((item) => JSON.stringify({ id: item.id, question: item.question, answer: item.answer, family: item.family })).join("\n")}\n`;
    const gateway = () => stack.url("gateway");
    const submitted = await fetch(`${gateway()}/v1/batches?batchSize=8&concurrency=4&warmStart=zero`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body,
    });
    expect(submitted.status).toBe(202);
    const run = (await submitted.json()) as { runId: string; total: number; links: { events: string } };
    expect(run.total).toBe(24);

    // Follow the progress; kill the gateway (which runs the batch) half-way through the second batch.
    const events: Event[] = [];
    const ended = await follow(
      `${gateway()}${run.links.events}`,
      events,
      (event) => event.event === "progress" && Number(event.data.done) >= 12,
    );
    expect(ended).toBe(false);
    const doneAtKill = Number(events.at(-1)?.data.done);
    await stack.kill("gateway", "SIGKILL");
    await stack.restart("gateway");

    // The restarted gateway picks the run up again (its queue item is redelivered) and finishes it.
    const after: Event[] = [];
    expect(await follow(`${gateway()}${run.links.events}`, after, () => false)).toBe(true);
    process.stdout.write(
      `SSE after restart: ${after.map((event) => `${event.event}${event.event === "progress" ? `(${String(event.data.done)})` : ""}`).join(" ")}\n`,
    );
    expect(after.at(-1)).toMatchObject({ event: "done", data: { status: "done", done: 24, total: 24 } });
    expect(after.filter((event) => event.event === "batch").map((event) => event.data.batch)).toEqual([
      1, 2, 3,
    ]);
    const progress = after
      .filter((event) => event.event === "progress")
      .map((event) => Number(event.data.done));
    expect(progress[0]).toBeGreaterThanOrEqual(doneAtKill);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    // GET shows the rows (with each barrier's report) and the predictions.
    const view = (await (await fetch(`${gateway()}/v1/batches/${run.runId}`)).json()) as {
      status: string;
      done: number;
      rows: { batch: number; merged: number; librarySize: number; barrier?: { groupsFound: number } }[];
    };
    expect(view).toMatchObject({ status: "done", done: 24 });
    expect(view.rows.map((row) => row.batch)).toEqual([1, 2, 3]);
    expect(view.rows[0]?.merged).toBe(1);
    expect(view.rows[0]?.barrier?.groupsFound).toBeGreaterThanOrEqual(1);
    expect(view.rows.map((row) => row.librarySize)).toEqual([3, 3, 3]);
    const predictions = (await (await fetch(`${gateway()}/v1/batches/${run.runId}/predictions`)).text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(predictions).toHaveLength(24);
    for (const item of questions) {
      expect(
        predictions.find((line) => line.id === item.id),
        item.id,
      ).toMatchObject({ status: "succeeded", prediction: item.answer, family: item.family });
    }
    const list = (await (await fetch(`${gateway()}/v1/batches`)).json()) as { batches: { runId: string }[] };
    expect(list.batches.map((entry) => entry.runId)).toEqual([run.runId]);

    // Every task started exactly once across the kill.
    const taskIds = predictions.map((line) => String(line.taskId));
    for (let waited = 0; taskIds.some((id) => !taskStarts.has(id)) && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(taskIds.map((id) => taskStarts.get(id))).toEqual(taskIds.map(() => 1));

    // Posting the same questions again is the same run: nothing new starts.
    const again = await fetch(`${gateway()}/v1/batches?batchSize=8&concurrency=4&warmStart=zero`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body,
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { runId: string }).runId).toBe(run.runId);
    finishedRunId = run.runId;
  }, 240_000);

  it("shows each barrier's report of the latest run on the dashboard (real Chromium)", async () => {
    expect(finishedRunId, "the HTTP run above finished").toBeDefined();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(stack.url("gateway"));
      await page.waitForSelector(
        `#batches[data-status=done][data-run-id='${finishedRunId}'][data-barriers='3']`,
        {
          timeout: 30_000,
        },
      );
      expect(await page.locator("#batches-state").innerText()).toBe(
        `run ${finishedRunId} · done · 24/24 done · 3/3 batches`,
      );
      const first = page.locator("#batch-barriers tbody tr[data-batch='1']");
      expect(Number(await first.locator("td.groups").innerText())).toBeGreaterThanOrEqual(1);
      const merged = await first.locator("td.merged").innerText();
      expect(merged).toMatch(/^count_vowels ← .*tally_vowels/);
      expect(await first.locator("td.rejected").innerText()).toBe("—");
      expect(await page.locator("#batch-barriers tbody tr").count()).toBe(3);
      expect(await page.locator("#batch-barriers tbody tr[data-batch='2'] td.merged").innerText()).toBe("—");
      await page.locator("#batches").screenshot({ path: "/tmp/dashboard-batches.png" });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
