import { describe, expect, it } from "vitest";
import { parseBoundedJson, scanFrames } from "./frame.js";

describe("scanFrames", () => {
  it("finds the nonce frame among tool prints, and ignores frames with another nonce", () => {
    const body = '{"k":"ok","output":1}';
    const stdout = Buffer.from(
      `hello\n\u001eOTHER:5:{"k":1}\n\u001eNONCE:${Buffer.byteLength(body)}:${body}\nbye`,
    );
    const scan = scanFrames(stdout, "NONCE");
    expect(scan.frames.map((frame) => frame.toString())).toEqual([body]);
    expect(scan.rest.toString()).toBe(`hello\n\u001eOTHER:5:{"k":1}\nbye`);
  });

  it("counts a damaged frame so the run is refused", () => {
    expect(scanFrames(Buffer.from("\u001eNONCE:xx"), "NONCE").frames).toHaveLength(1);
  });
});

describe("parseBoundedJson", () => {
  it("refuses too-large and too-deep input before parsing", () => {
    expect(parseBoundedJson(Buffer.from("[1,2,3]"), { maxBytes: 3, maxDepth: 10 })).toMatchObject({
      ok: false,
      reason: "too-large",
    });
    expect(
      parseBoundedJson(Buffer.from(`${"[".repeat(11)}${"]".repeat(11)}`), { maxBytes: 100, maxDepth: 10 }),
    ).toMatchObject({
      ok: false,
      reason: "too-deep",
    });
    expect(parseBoundedJson(Buffer.from('{"a":"[[[[[[[[[[[["}'), { maxBytes: 100, maxDepth: 2 })).toEqual({
      ok: true,
      value: { a: "[[[[[[[[[[[[" },
    });
    expect(parseBoundedJson(Buffer.from("{nope"), { maxBytes: 100, maxDepth: 2 })).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });
});
