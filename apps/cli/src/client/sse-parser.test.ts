import { describe, expect, it } from "vitest";
import { SseParser } from "./sse-parser.js";

describe("SseParser", () => {
  it("parses events split across arbitrary chunks", () => {
    const parser = new SseParser();
    const text =
      'id: 1\nevent: task-start\ndata: {"a":1}\n\n: keep-alive\n\nid: 2\nevent: task-end\ndata: {"b":2}\n\n';
    const events = [];
    for (let index = 0; index < text.length; index += 3)
      events.push(...parser.push(text.slice(index, index + 3)));
    expect(events).toEqual([
      { id: "1", event: "task-start", data: '{"a":1}' },
      { id: "2", event: "task-end", data: '{"b":2}' },
    ]);
    expect(parser.lastEventId).toBe("2");
  });

  it("joins multi-line data, handles CRLF and CR, defaults the event name", () => {
    const parser = new SseParser();
    expect(parser.push("data: one\r\ndata: two\r\n\r\ndata:three\r")).toEqual([
      { event: "message", data: "one\ntwo" },
    ]);
    expect(parser.push("\r\n")).toEqual([{ event: "message", data: "three" }]);
  });

  it("does not dispatch an event without data and ignores unknown fields", () => {
    const parser = new SseParser();
    expect(parser.push("event: nothing\nretry: 100\nfoo: bar\n\n")).toEqual([]);
    expect(parser.push("data\n\n")).toEqual([{ event: "message", data: "" }]);
  });
});
