import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, type Subscription, connectBus } from "@insitu/bus";
import { EVALS_BUCKET, type EvalState, EvalStateSchema } from "@insitu/contracts";
import { pngSize } from "@insitu/eval";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumMissing, launchChromium } from "../harness/chromium.js";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";
import { SCRIPTED_JUDGE, insituEval, stackArgs } from "./eval-client.js";

// The dashboard's Evaluation panel in REAL headless Chromium (playwright-core driving
// /usr/bin/chromium) while `insitu eval` runs on the whole real stack (real nats-server, every
// service its own process, tools run in the real Deno sandbox). The agent's model is the FAKE
// scripted model of the demo scenario (test/e2e/scenarios/demo/demo.json answers the three
// questions of test/data/eval/own.jsonl); the judge is the FAKE scripted judge of
// test/e2e/scenarios/eval/judge.json.
const root = findRepoRoot();
let stack: Stack;
let bus: Bus;
let watch: Subscription | undefined;
let browser: Browser;
let page: Page;
let dir: string;
const pageErrors: string[] = [];

const missingChromium = chromiumMissing();

beforeAll(async () => {
  if (missingChromium) return;
  dir = await mkdtemp(join(tmpdir(), "insitu-dashboard-eval-"));
  stack = await startStack({
    env: { INSITU_SCRIPT: join(root, "test/e2e/scenarios/demo/demo.json"), LOG_LEVEL: "warn" },
    onLog: () => {},
  });
  bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "e2e-dashboard-eval" });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  watch?.unsubscribe();
  await bus?.drain();
  await browser?.close();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The text a user sees (rendered text: hidden elements and CSS count, unlike textContent). */
// biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what this test checks.
const shown = (selector: string): Promise<string> => page.locator(selector).innerText();

/** In the page: per eval chart, the canvas pixels within 40 of its series colour (-1 without a canvas). */
const INKED_PIXELS = `[["#chart-eval-accuracy", [47, 111, 222]], ["#chart-eval-library", [47, 111, 222]], ["#chart-eval-egl", [194, 65, 12]]].map(([selector, [r, g, b]]) => {
  const canvas = document.querySelector(selector + " canvas");
  if (!canvas) return -1;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let index = 0; index < data.length; index += 4)
    if (Math.abs(data[index] - r) < 40 && Math.abs(data[index + 1] - g) < 40 && Math.abs(data[index + 2] - b) < 40) count++;
  return count;
})`;

describe("the dashboard's Evaluation panel", () => {
  it("shows a running insitu eval's figures as it goes: library size and EGL vs queries, cost per query, then accuracy per category", async () => {
    if (missingChromium) throw missingChromium;
    await page.goto(stack.url("gateway"));
    await page.waitForSelector("body[data-state=ok]");
    expect(await shown("#eval-state")).toContain("No eval yet");
    expect(await page.locator("#eval-charts").isHidden()).toBe(true);

    // Every state insitu eval writes, as the bucket sees it.
    const seen: EvalState[] = [];
    const kv = await bus.kv(EVALS_BUCKET);
    watch = await kv.watch((_key, value) => {
      if (value !== undefined) seen.push(EvalStateSchema.parse(value));
    });

    const out = join(dir, "report");
    const result = await insituEval(["--batch-size", "1", "--out", out, ...stackArgs(stack)], {
      cwd: dir,
      env: { INSITU_SCRIPT: SCRIPTED_JUDGE },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("accuracy 100.00% (3/3)");

    // Written as it went: asking with 1, 2, 3 batch points, then judging, then done.
    await expect.poll(() => seen.at(-1)?.status, { timeout: 10_000 }).toBe("done");
    const asking = seen.filter((state) => state.status === "asking");
    expect(new Set(asking.map((state) => state.batches.length))).toEqual(new Set([0, 1, 2, 3]));
    expect(asking.some((state) => state.answered === 1 && state.accuracy === null)).toBe(true);
    expect(seen.some((state) => state.status === "judging")).toBe(true);
    const last = seen.at(-1) as EvalState;
    // The same figures as the report's metrics.json.
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as {
      runs: { batches: { queries: number; librarySize: number; egl: number | null }[] }[];
    };
    expect(last.batches.map((b) => [b.queries, b.librarySize, b.egl])).toEqual(
      metrics.runs[0]?.batches.map((b) => [b.queries, b.librarySize, b.egl]),
    );
    expect(last.byCategory).toEqual([
      { name: "numbers", correct: 1, total: 1, accuracy: 100 },
      { name: "words", correct: 2, total: 2, accuracy: 100 },
    ]);
    expect(last.costPerQuery.map((point) => point.query)).toEqual([1, 2, 3]);

    // The open page picks it up by itself.
    await page.waitForSelector("#evaluation[data-status=done][data-points='3'][data-categories='2']", {
      timeout: 30_000,
    });
    expect(await shown("#eval-state")).toBe(
      "jsonl · run 1/1 · done · 3/3 answered · 3 judged · accuracy 100.0%",
    );
    expect(await page.locator("#chart-eval-accuracy").getAttribute("aria-label")).toBe(
      "Accuracy per category: numbers 100.0% (1/1), words 100.0% (2/2)",
    );
    const inked = (await page.evaluate(INKED_PIXELS)) as number[];
    expect(inked[0]).toBeGreaterThan(500); // two bars
    expect(inked[1]).toBeGreaterThan(50);
    expect(inked[2]).toBeGreaterThan(50);
    expect(await page.locator("#chart-eval-cost canvas").count()).toBe(1);
    expect(await page.locator("#eval-charts").isVisible()).toBe(true);
    const shot = await page.locator("#evaluation").screenshot({ path: "/tmp/dashboard-eval.png" });
    const size = pngSize(shot);
    expect(size.width).toBeGreaterThan(1000);
    expect(size.height).toBeGreaterThan(450);
    expect(pageErrors).toEqual([]);
  }, 200_000);
});
