import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumMissing, launchChromium } from "../harness/chromium.js";
import { GatewayClient, type Stack, findRepoRoot, startStack } from "../harness/stack.js";

// The dashboard against a gateway that requires a bearer token (GATEWAY_API_TOKEN), in REAL
// headless Chromium and the whole real stack (docs/adr/0174): the page asks for the token, keeps
// it in sessionStorage only, sends it on every API call, reads the task event stream with it,
// and says so when a token is refused. The model is the scripted demo scenario.

const TOKEN = "dashboard-token-0123456789abcdef";
const root = findRepoRoot();
let stack: Stack;
let browser: Browser;
let page: Page;
let base: string;
const pageErrors: string[] = [];
const missingChromium = chromiumMissing();

function requireChromium(): void {
  if (missingChromium) throw missingChromium;
}

beforeAll(async () => {
  if (missingChromium) return;
  stack = await startStack({
    env: {
      INSITU_SCRIPT: join(root, "test/e2e/scenarios/demo/demo.json"),
      GATEWAY_API_TOKEN: TOKEN,
      LOG_LEVEL: "warn",
    },
    onLog: () => {},
  });
  base = stack.url("gateway");
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const text = async (selector: string) => (await page.locator(selector).textContent())?.trim() ?? "";

describe("dashboard with a gateway token (ADR 0174)", () => {
  it("asks for the token, says when one is refused, and works with the right one", async () => {
    requireChromium();
    await page.goto(`${base}/dashboard`);
    await page.waitForSelector("#token-form[data-state=missing]", { timeout: 30_000 });
    expect(await text("#error")).toContain("requires a token");

    await page.fill("#token-input", "not-the-token-0123456789");
    await Promise.all([page.waitForEvent("load"), page.click("#token-form button[type=submit]")]);
    await page.waitForSelector("#token-form[data-state=refused]", { timeout: 30_000 });
    expect(await text("#error")).toContain("refused this token");

    await page.fill("#token-input", TOKEN);
    await Promise.all([page.waitForEvent("load"), page.click("#token-form button[type=submit]")]);
    await page.waitForSelector("body[data-state=ok]", { timeout: 30_000 });
    expect(await page.locator("#error").isVisible()).toBe(false);
    // this tab only: sessionStorage, never localStorage or a cookie
    expect(await page.evaluate('sessionStorage.getItem("insitu.gatewayToken")')).toBe(TOKEN);
    expect(await page.evaluate("localStorage.length")).toBe(0);
    expect((await page.context().cookies()).length).toBe(0);
  });

  it("shows a task's event stream through the token (EventSource cannot send it)", async () => {
    requireChromium();
    const client = new GatewayClient(base, TOKEN);
    const { taskId } = await client.submitTask({
      question: "How many vowels are in the word 'encyclopedia'?",
    });
    const end = await client.followEvents(taskId, () => {});
    expect(end.status).toBe("succeeded");
    await page.waitForSelector(`#tasks tr[data-task="${taskId}"] a.events-link`, { timeout: 30_000 });
    await page.locator(`#tasks tr[data-task="${taskId}"] a.events-link`).click();
    await page.waitForSelector("#events-panel[data-state=ended]", { timeout: 30_000 });
    const kinds = await page
      .locator("#events-list li")
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-kind")));
    expect(kinds[0]).toBe("task-start");
    expect(kinds.at(-1)).toBe("task-end");
    expect(await text("#events-state")).toBe("ended: succeeded");
  });

  it("forgets the token on request, and the gateway refuses the page again", async () => {
    requireChromium();
    await page.goto(`${base}/dashboard`);
    await page.waitForSelector("#token-form[data-state=accepted]", { timeout: 30_000 });
    await Promise.all([page.waitForEvent("load"), page.click("#token-forget")]);
    await page.waitForSelector("#token-form[data-state=missing]", { timeout: 30_000 });
    expect(await page.evaluate('sessionStorage.getItem("insitu.gatewayToken")')).toBeNull();
    expect(pageErrors).toEqual([]);
  });
});
