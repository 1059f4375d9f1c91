import { Ping } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import { decodeEnvelope, encodeEnvelope, jsonDepth, parseBounded } from "./codec.js";

describe("codec", () => {
  it("round-trips a payload inside an envelope with id, type, version, task id and time", () => {
    const bytes = encodeEnvelope(Ping.request, { text: "hi" }, { taskId: "task-1" });
    const { envelope, data } = decodeEnvelope(bytes, Ping.request);
    expect(data).toEqual({ text: "hi" });
    expect(envelope).toMatchObject({ type: "system.ping.request", version: 1, taskId: "task-1" });
    expect(Date.parse(envelope.time)).not.toBeNaN();
  });

  it("counts nesting depth without parsing and ignores brackets inside strings", () => {
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonDepth('{"a":"[[[[[[\\"]]]"}')).toBe(1);
    expect(jsonDepth("[".repeat(100000))).toBe(100000);
  });

  it("rejects before parsing: size first, then depth", () => {
    expect(() => parseBounded(new TextEncoder().encode("[1,2,3]"), { maxBytes: 3, maxDepth: 10 })).toThrow(
      expect.objectContaining({ code: "MESSAGE_TOO_LARGE" }),
    );
    expect(() => parseBounded(new TextEncoder().encode("[[[1]]]"), { maxBytes: 100, maxDepth: 2 })).toThrow(
      expect.objectContaining({ code: "MESSAGE_TOO_DEEP" }),
    );
  });

  it("refuses a message of another type on this contract", () => {
    const bytes = encodeEnvelope(Ping.response, { text: "x", service: "s" });
    expect(() => decodeEnvelope(bytes, Ping.request)).toThrow(
      expect.objectContaining({ code: "INVALID_MESSAGE" }),
    );
  });
});
