import { describe, expect, it } from "vitest";
import { formatLogLine, splitLines } from "./log-format.js";
import { orderServices } from "./discover.js";

describe("formatLogLine", () => {
  it("labels and shortens JSON log lines, keeping task ids and dropping noise", () => {
    const line = JSON.stringify({
      time: "t",
      level: "warn",
      service: "manager",
      msg: "task stalled",
      taskId: "t1",
      traceId: "x",
      note: "two words",
    });
    expect(formatLogLine("manager", line, { labelWidth: 8 })).toBe(
      '[manager]  warn  task stalled taskId=t1 note="two words"',
    );
  });

  it("passes other lines through, and raw mode keeps JSON as is", () => {
    expect(formatLogLine("nats", "[INF] Server is ready")).toBe("[nats] [INF] Server is ready");
    expect(formatLogLine("x", '{"msg":"m"}', { raw: true })).toBe('[x] {"msg":"m"}');
    expect(formatLogLine("x", "{not json")).toBe("[x] {not json");
  });

  it("truncates huge fields", () => {
    const line = JSON.stringify({ level: "info", msg: "m", blob: "y".repeat(500) });
    expect(formatLogLine("x", line).length).toBeLessThan(200);
  });
});

describe("splitLines", () => {
  it("returns whole lines and keeps the partial tail", () => {
    expect(splitLines("ab", "c\r\nde\nf")).toEqual({ lines: ["abc", "de"], rest: "f" });
  });
});

describe("orderServices", () => {
  it("starts the registry and sandbox first and the gateway last", () => {
    expect(orderServices(["gateway", "manager", "zeta", "sandbox", "registry", "executor"])).toEqual([
      "registry",
      "sandbox",
      "executor",
      "manager",
      "zeta",
      "gateway",
    ]);
  });
});
