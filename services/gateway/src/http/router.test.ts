import { describe, expect, it } from "vitest";
import { defineRoute, matchRoute } from "./router.js";

const routes = [
  defineRoute("POST", "/v1/tasks", "submit"),
  defineRoute("GET", "/v1/tasks/:id", "get"),
  defineRoute("GET", "/v1/tasks/:id/events", "events"),
  defineRoute("GET", "/v1/tools/:name/history", "history"),
];

describe("matchRoute", () => {
  it("matches a static route and extracts decoded params", () => {
    expect(matchRoute(routes, "POST", "/v1/tasks")).toMatchObject({
      kind: "found",
      route: { handler: "submit" },
    });
    expect(matchRoute(routes, "GET", "/v1/tasks/t%2D1/events")).toMatchObject({
      kind: "found",
      route: { handler: "events" },
      params: { id: "t-1" },
    });
  });

  it("tolerates a trailing slash but not extra segments", () => {
    expect(matchRoute(routes, "GET", "/v1/tasks/abc/")).toMatchObject({
      kind: "found",
      params: { id: "abc" },
    });
    expect(matchRoute(routes, "GET", "/v1/tasks/abc/events/more")).toEqual({ kind: "not-found" });
  });

  it("reports 405 with the allowed methods when only the method is wrong", () => {
    expect(matchRoute(routes, "DELETE", "/v1/tasks")).toEqual({
      kind: "method-not-allowed",
      allowed: ["POST"],
    });
  });

  it("answers HEAD through the GET route", () => {
    expect(matchRoute(routes, "HEAD", "/v1/tasks/x")).toMatchObject({
      kind: "found",
      route: { handler: "get" },
    });
  });

  it("does not match empty params or malformed escapes", () => {
    expect(matchRoute(routes, "GET", "/v1/tasks//events")).toEqual({ kind: "not-found" });
    expect(matchRoute(routes, "GET", "/v1/tasks/%E0%A4%A/events")).toEqual({ kind: "not-found" });
    expect(matchRoute(routes, "GET", "/nope")).toEqual({ kind: "not-found" });
  });
});
