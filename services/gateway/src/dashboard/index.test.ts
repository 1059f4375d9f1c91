import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { DASHBOARD_CSP, DASHBOARD_PATHS, loadDashboard } from "./index.js";

/** FAKE request/response pair (no socket): records what the handler writes. */
function fakeExchange(method: string, url: string) {
  const written: { status?: number; headers: Record<string, unknown>; body?: Buffer; ended: boolean } = {
    headers: {},
    ended: false,
  };
  const response = {
    writeHead(status: number, headers: Record<string, unknown>) {
      written.status = status;
      written.headers = headers;
      return response;
    },
    end(body?: Buffer) {
      written.body = body;
      written.ended = true;
      return response;
    },
  };
  return {
    request: { method, url } as IncomingMessage,
    response: response as unknown as ServerResponse,
    written,
  };
}

describe("dashboard files", () => {
  const dashboard = loadDashboard();

  it("serves the page at / and /dashboard with a CSP that forbids inline script and other origins", () => {
    for (const path of ["/", "/dashboard", "/dashboard/", "/?x=1"]) {
      const { request, response, written } = fakeExchange("GET", path);
      expect(dashboard.handle(request, response)).toBe(true);
      expect(written.status).toBe(200);
      expect(written.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(written.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
      expect(written.body?.toString()).toContain('<script type="module" src="/dashboard/app.js"></script>');
    }
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain("unsafe-inline");
    expect(DASHBOARD_CSP).not.toMatch(/https?:/);
  });

  it("the page has no inline script and refers to no other origin", () => {
    const { request, response, written } = fakeExchange("GET", "/");
    dashboard.handle(request, response);
    const html = written.body?.toString() ?? "";
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it("serves the script modules and stylesheet with their types; HEAD sends no body", () => {
    const types: Record<string, string> = {
      "/dashboard/app.js": "text/javascript; charset=utf-8",
      "/dashboard/format.js": "text/javascript; charset=utf-8",
      "/dashboard/gateway-auth.js": "text/javascript; charset=utf-8",
      "/dashboard/style.css": "text/css; charset=utf-8",
      "/dashboard/vendor/uPlot.esm.js": "text/javascript; charset=utf-8",
      "/dashboard/vendor/uPlot.min.css": "text/css; charset=utf-8",
    };
    for (const [path, type] of Object.entries(types)) {
      const { request, response, written } = fakeExchange("GET", path);
      expect(dashboard.handle(request, response)).toBe(true);
      expect(written.headers["content-type"]).toBe(type);
      expect(written.headers["x-content-type-options"]).toBe("nosniff");
      expect(written.body?.length).toBe(written.headers["content-length"]);
    }
    const head = fakeExchange("HEAD", "/dashboard/app.js");
    expect(dashboard.handle(head.request, head.response)).toBe(true);
    expect(head.written.body).toBeUndefined();
    expect(head.written.headers["content-length"]).toBeGreaterThan(0);
    expect(DASHBOARD_PATHS).toContain("/dashboard/format.js");
    // The chart library is the npm package's own ES module (served locally, no other origin).
    const chart = fakeExchange("GET", "/dashboard/vendor/uPlot.esm.js");
    dashboard.handle(chart.request, chart.response);
    expect(chart.written.body?.toString()).toMatch(/export \{ uPlot as default \}|export default uPlot/);
  });

  it("leaves every other request to the API", () => {
    for (const [method, path] of [
      ["GET", "/v1/tasks"],
      ["POST", "/"],
      ["GET", "/dashboard/../api.ts"],
      ["GET", "/dashboard/index.ts"],
      ["GET", "/favicon.ico"],
    ] as const) {
      const { request, response, written } = fakeExchange(method, path);
      expect(dashboard.handle(request, response)).toBe(false);
      expect(written.ended).toBe(false);
    }
  });
});
