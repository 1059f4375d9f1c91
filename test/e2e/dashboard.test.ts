import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumMissing, launchChromium } from "../harness/chromium.js";
import { GatewayClient, type Stack, findRepoRoot, startStack } from "../harness/stack.js";

// The web dashboard in REAL headless Chromium (playwright-core driving /usr/bin/chromium; no
// browser is downloaded) against the whole real stack: real nats-server, every service its own
// process, the tool's code run in the real Deno sandbox. The model is the FAKE scripted model of
// the demo scenario (test/e2e/scenarios/demo/demo.json), copied with one change: the tool's
// description — model output — carries an HTML payload, which the page must show as text.

const HOSTILE_DESCRIPTION =
  'Counts the vowels in a text <img src=x onerror="window.__xss=1"> and returns the count.';
const HOSTILE_QUESTION =
  "How many vowels are in the word 'encyclopedia'? <img src=x onerror=\"window.__xss=2\">";

const root = findRepoRoot();
let stack: Stack;
let browser: Browser;
let page: Page;
let base: string;
let scriptDir: string;
let taskId: string;
const pageErrors: string[] = [];
const consoleErrors: string[] = [];

/** demo.json with the count_vowels request's description replaced by HOSTILE_DESCRIPTION. */
async function hostileScript(): Promise<string> {
  const script = JSON.parse(await readFile(join(root, "test/e2e/scenarios/demo/demo.json"), "utf8")) as {
    roles: {
      manager: { rules: { reply: { json: { tool_requests?: { name: string; description: string }[] } } }[] };
    };
  };
  const requests = script.roles.manager.rules.flatMap((rule) => rule.reply.json.tool_requests ?? []);
  const request = requests.find((candidate) => candidate.name === "count_vowels");
  if (!request) throw new Error("demo.json no longer requests count_vowels; update dashboard.test.ts");
  request.description = HOSTILE_DESCRIPTION;
  scriptDir = await mkdtemp(join(tmpdir(), "insitu-dashboard-"));
  const path = join(scriptDir, "demo-hostile.json");
  await writeFile(path, JSON.stringify(script));
  return path;
}

/**
 * Without Chromium every test FAILS with this message (a throw in beforeAll would only mark them
 * skipped): CI must install it (scripts/setup.sh does, as root with apt-get).
 */
const missingChromium = chromiumMissing();

function requireChromium(): void {
  if (missingChromium) throw missingChromium;
}

beforeAll(async () => {
  if (missingChromium) return;
  stack = await startStack({
    env: { INSITU_SCRIPT: await hostileScript(), LOG_LEVEL: "warn" },
    onLog: () => {},
  });
  base = stack.url("gateway");
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (scriptDir) await rm(scriptDir, { recursive: true, force: true });
});

/**
 * Runs in the page: per growth chart, the canvas pixels within 40 of its series colour (-1 when
 * the chart has no canvas). A string, since this project's type-check has no DOM library.
 */
const INKED_PIXELS = `[["#chart-library", [47, 111, 222]], ["#chart-egl", [194, 65, 12]]].map(([selector, [r, g, b]]) => {
  const canvas = document.querySelector(selector + " canvas");
  if (!canvas) return -1;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let index = 0; index < data.length; index += 4)
    if (Math.abs(data[index] - r) < 40 && Math.abs(data[index + 1] - g) < 40 && Math.abs(data[index + 2] - b) < 40) count++;
  return count;
})`;

/** The text a user sees (rendered text: hidden elements and CSS count, unlike textContent). */
// biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what this test checks.
const shown = (locator: Locator): Promise<string> => locator.innerText();
const text = (selector: string): Promise<string> => shown(page.locator(selector));

describe("the web dashboard in headless Chromium", () => {
  it("serves the page with a strict CSP and shows an empty library", async () => {
    requireChromium();
    const response = await page.goto(`${base}/`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    await page.waitForSelector("body[data-state=ok]");
    expect(await text("#m-library-size")).toBe("0");
    expect(await text("#m-tools-created")).toBe("0");
    expect(await text("#m-tool-calls")).toBe("0");
    expect(await text("#m-egl")).toBe("—");
    expect(await text("#m-success-rate")).toBe("—");
    expect(await text("#top-tools tbody")).toContain("The library is empty");
    expect(await text("#tasks tbody")).toContain("No tasks yet");
    expect(await text("#outcomes")).toContain("No tool calls yet");
    expect(await text("#growth-state")).toBe("No finished task yet.");
    expect(await page.locator("#error").isHidden()).toBe(true);
    // /dashboard is the same page.
    expect((await fetch(`${base}/dashboard`)).headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it("after a task that creates a tool, shows the figures, the tool and the task (auto-refresh)", async () => {
    requireChromium();
    const client = new GatewayClient(base, undefined);
    const submitted = await client.submitTask({ question: HOSTILE_QUESTION });
    taskId = submitted.taskId;
    const end = await client.followEvents(taskId, () => {});
    expect(end.status).toBe("succeeded");
    expect(end.toolsCreated).toEqual(["count_vowels"]);

    // The open page picks the new figures up by itself.
    await page.waitForSelector('#m-library-size:text-is("1")', { timeout: 30_000 });
    await page.waitForSelector(`#tasks tr[data-task="${taskId}"] .status-succeeded`, { timeout: 30_000 });
    const summary = (await client.metricsSummary()) as { egl: number; toolCalls: number };
    expect(await text("#m-library-size")).toBe("1");
    expect(await text("#m-tools-created")).toBe("1");
    expect(Number((await text("#m-tool-calls")).replace(/,/g, ""))).toBeGreaterThanOrEqual(1);
    expect(await text("#m-egl")).toMatch(/^\d\.\d{3}$/);
    expect(await text("#m-egl")).toBe(summary.egl.toFixed(3));
    expect(await text("#m-success-rate")).toBe("100%");
    expect(await text("#outcomes")).toMatch(/success\s*1/);
    expect(await page.locator("#outcomes svg rect").count()).toBeGreaterThanOrEqual(1);

    const toolRow = page.locator('#top-tools tr[data-tool="count_vowels"]');
    expect(await shown(toolRow.locator(".tool-name"))).toBe("count_vowels");
    expect(Number(await shown(toolRow.locator("td").nth(1)))).toBeGreaterThanOrEqual(1);
    expect(await shown(toolRow.locator("td").nth(2))).toBe("100%");

    const taskRow = page.locator(`#tasks tr[data-task="${taskId}"]`);
    expect(await shown(taskRow.locator(".status"))).toBe("succeeded");
    expect(await shown(taskRow.locator(".created"))).toBe("count_vowels");
    expect(await shown(taskRow.locator(".used"))).toBe("count_vowels");

    // XSS: model-written description and user question render as text, never as markup.
    expect(await shown(toolRow.locator(".tool-description"))).toBe(HOSTILE_DESCRIPTION);
    expect(await shown(taskRow.locator(".question"))).toBe(HOSTILE_QUESTION);
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.evaluate("typeof window.__xss")).toBe("undefined");
    await page.screenshot({ path: "/tmp/dashboard.png", fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it("opens the task's live event stream (SSE) in a panel", async () => {
    requireChromium();
    await page.locator(`#tasks tr[data-task="${taskId}"] a.events-link`).click();
    await page.waitForSelector("#events-panel[data-state=ended]", { timeout: 30_000 });
    expect(await page.locator("#events-panel").isVisible()).toBe(true);
    const kinds = await page
      .locator("#events-list li")
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-kind")));
    expect(kinds[0]).toBe("task-start");
    expect(kinds.at(-1)).toBe("task-end");
    expect(kinds).toEqual(expect.arrayContaining(["plan-end", "tool-build-end", "tool-call-end"]));
    const events = await text("#events-list");
    expect(events).toContain("registered count_vowels");
    expect(events).toMatch(/count_vowels: success in \d+ ms/);
    expect(await text("#events-state")).toBe("ended: succeeded");
    expect(await page.locator("#events-panel img").count()).toBe(0);
    await page.screenshot({ path: "/tmp/dashboard-events.png" });
    await page.locator("#events-close").click();
    await page.waitForSelector("#events-panel", { state: "hidden" });
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it("draws the growth curves (library size and EGL vs tasks) with the locally served chart library", async () => {
    requireChromium();
    const client = new GatewayClient(base, undefined);
    // The demo's second question reuses the library's count_vowels: the library stays at 1 tool
    // and EGL falls (1 admitted / more calls).
    const submitted = await client.submitTask({ question: "Count the vowels in 'onomatopoeia'." });
    expect((await client.followEvents(submitted.taskId, () => {})).status).toBe("succeeded");
    await page.waitForSelector("body[data-growth-points='2']", { timeout: 30_000 });
    expect(await text("#growth-state")).toBe("2 finished tasks");
    const series = (await (await fetch(`${base}/v1/metrics/series`)).json()) as {
      points: { librarySize: number; egl: number | null }[];
    };
    expect(series.points.map((point) => point.librarySize)).toEqual([1, 1]);
    const [first, second] = series.points.map((point) => point.egl ?? Number.NaN);
    expect(second).toBeLessThan(first as number);
    // Each chart is a uPlot canvas with its line drawn: count the pixels of the series' colour.
    const inked = (await page.evaluate(INKED_PIXELS)) as number[];
    expect(inked[0]).toBeGreaterThan(50);
    expect(inked[1]).toBeGreaterThan(50);
    await page.locator(".growth").screenshot({ path: "/tmp/dashboard-growth.png" });
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it("shows a visible message while the registry is down, keeps the last figures, and recovers", async () => {
    requireChromium();
    await stack.kill("registry", "SIGKILL");
    await page.waitForSelector("body[data-state=error]", { timeout: 30_000 });
    expect(await page.locator("#error").isVisible()).toBe(true);
    expect(await text("#error")).toMatch(/^Gateway error/);
    expect(await text("#m-library-size")).toBe("1");
    await page.screenshot({ path: "/tmp/dashboard-error.png" });
    await stack.restart("registry").catch((error: unknown) => {
      // Say why (the registry's own last lines), so a failed restart is diagnosable from CI output.
      throw new Error(
        `the registry did not come back: ${error instanceof Error ? error.message : String(error)}\n` +
          stack.logs("registry").slice(-20).join("\n"),
      );
    });
    await page.waitForSelector("body[data-state=ok]", { timeout: 30_000 });
    expect(await page.locator("#error").isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
    // The only console lines are Chromium's own network log of the failed API responses
    // (status >= 500); the page's code logs nothing and throws nothing.
    if (process.env.E2E_LOGS) console.log(consoleErrors);
    for (const line of consoleErrors) {
      expect(line).toMatch(/^Failed to load resource: the server responded with a status of 5\d\d/);
    }
  });
});
