import { describe, expect, it } from "vitest";
import { formatSseComment, formatSseEvent, parseLastEventId } from "./sse.js";

describe("formatSseEvent", () => {
  it("writes id, event and JSON data, ending with a blank line", () => {
    expect(formatSseEvent({ id: 3, event: "tool-call-end", data: { tool: "search_web", ok: true } })).toBe(
      'id: 3\nevent: tool-call-end\ndata: {"tool":"search_web","ok":true}\n\n',
    );
  });

  it("keeps JSON data on one line even when strings hold newlines", () => {
    const text = formatSseEvent({ data: { answer: "line one\nline two" } });
    expect(text).toBe('data: {"answer":"line one\\nline two"}\n\n');
  });

  it("splits raw multi-line text over several data lines", () => {
    expect(formatSseEvent({ data: "a\nb\r\nc" })).toBe("data: a\ndata: b\ndata: c\n\n");
  });

  it("strips newlines from id and event so a value cannot inject a field", () => {
    expect(formatSseEvent({ id: "1\ndata: evil", event: "x\r\nid: 9", data: 1 })).toBe(
      "id: 1 data: evil\nevent: x id: 9\ndata: 1\n\n",
    );
  });

  it("writes retry hints and comments", () => {
    expect(formatSseEvent({ retryMs: 2500.7, data: null })).toBe("retry: 2500\ndata: null\n\n");
    expect(formatSseComment("keep\nalive")).toBe(": keep alive\n\n");
  });
});

describe("parseLastEventId", () => {
  it("accepts a sequence number and rejects anything else", () => {
    expect(parseLastEventId("12")).toBe(12);
    expect(parseLastEventId(" 7 ")).toBe(7);
    expect(parseLastEventId(undefined)).toBe(0);
    expect(parseLastEventId("abc")).toBe(0);
    expect(parseLastEventId("-1")).toBe(0);
    expect(parseLastEventId(["4", "5"])).toBe(4);
  });
});
