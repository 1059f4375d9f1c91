import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The web dashboard: one HTML page, a stylesheet, two plain ES modules and the chart library,
 * read once at start-up and served as they are (no build step, no third-party origin). The page reads the gateway's JSON
 * API from the same origin.
 */
export interface Dashboard {
  /** Answers GET/HEAD for the dashboard's paths; returns false for every other request. */
  handle(request: IncomingMessage, response: ServerResponse): boolean;
}

/** Scripts only from this origin (none inline), nothing from any other origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const FILES = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "format.js": "text/javascript; charset=utf-8",
  "gateway-auth.js": "text/javascript; charset=utf-8",
  "uPlot.esm.js": "text/javascript; charset=utf-8",
  "uPlot.min.css": "text/css; charset=utf-8",
} as const;
type FileName = keyof typeof FILES;

/**
 * The chart library (uPlot, MIT, no dependencies: ADR 0058) is served from its npm package under
 * /dashboard/vendor/, so the page loads nothing from another origin and the CSP stays strict.
 */
const VENDOR: Partial<Record<FileName, string>> = {
  "uPlot.esm.js": "uplot/dist/uPlot.esm.js",
  "uPlot.min.css": "uplot/dist/uPlot.min.css",
};

const PATHS: Record<string, FileName> = {
  "/": "index.html",
  "/dashboard": "index.html",
  "/dashboard/": "index.html",
  "/dashboard/style.css": "style.css",
  "/dashboard/app.js": "app.js",
  "/dashboard/format.js": "format.js",
  "/dashboard/gateway-auth.js": "gateway-auth.js",
  "/dashboard/vendor/uPlot.esm.js": "uPlot.esm.js",
  "/dashboard/vendor/uPlot.min.css": "uPlot.min.css",
};

export const DASHBOARD_PATHS = Object.keys(PATHS);

export function loadDashboard(directory: URL = new URL("./", import.meta.url)): Dashboard {
  const bodies = new Map<FileName, Buffer>();
  const require = createRequire(import.meta.url);
  for (const name of Object.keys(FILES) as FileName[]) {
    const vendored = VENDOR[name];
    bodies.set(name, readFileSync(vendored ? require.resolve(vendored) : new URL(name, directory)));
  }
  return {
    handle(request, response) {
      const method = request.method ?? "GET";
      if (method !== "GET" && method !== "HEAD") return false;
      const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
      const name = PATHS[path];
      if (name === undefined) return false;
      const body = bodies.get(name)!;
      response.writeHead(200, {
        "content-type": FILES[name],
        "content-length": body.length,
        "cache-control": "no-cache",
        "content-security-policy": DASHBOARD_CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
      });
      response.end(method === "HEAD" ? undefined : body);
      return true;
    },
  };
}
