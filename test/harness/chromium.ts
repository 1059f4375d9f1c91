import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Where scripts/setup.sh installs Chromium (apt-get as root). */
export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * The error a browser test fails with when there is no Chromium (undefined when there is one).
 * Browser tests never skip: a throw in `beforeAll` would only mark them skipped, so suites keep
 * this and throw it from each test.
 */
export function chromiumMissing(): Error | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  return new Error(
    `this test drives real Chromium and found none at ${CHROMIUM}: install it (as root, ` +
      "`bash scripts/setup.sh` runs `apt-get install chromium`); this test never skips",
  );
}

/** REAL headless Chromium (playwright-core driving /usr/bin/chromium); throws when it is missing. */
export async function launchChromium(): Promise<Browser> {
  const missing = chromiumMissing();
  if (missing) throw missing;
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}
