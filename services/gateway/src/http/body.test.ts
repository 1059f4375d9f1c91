import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { readJsonBody } from "./body.js";

// A labelled fake request: a byte stream with headers, no socket.
function fakeRequest(chunks: (string | Buffer)[], headers: Record<string, string> = {}): IncomingMessage {
  const stream = Readable.from(
    chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk)),
  );
  return Object.assign(stream, { headers }) as unknown as IncomingMessage;
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as InsituError).code;
  }
  return "no error";
}

describe("readJsonBody", () => {
  it("parses a JSON body across chunks", async () => {
    const body = await readJsonBody(
      fakeRequest(['{"question":', '"hi"}'], { "content-type": "application/json" }),
      1024,
    );
    expect(body).toEqual({ question: "hi" });
  });

  it("refuses a declared Content-Length above the limit before reading", async () => {
    expect(await code(readJsonBody(fakeRequest(["{}"], { "content-length": "5000" }), 1024))).toBe(
      "PAYLOAD_TOO_LARGE",
    );
  });

  it("cuts off a chunked body as soon as it passes the limit", async () => {
    const chunks = Array.from({ length: 10 }, () => "x".repeat(200));
    expect(await code(readJsonBody(fakeRequest(chunks), 1024))).toBe("PAYLOAD_TOO_LARGE");
  });

  it("refuses other media types, empty bodies, bad JSON and deep nesting", async () => {
    expect(
      await code(
        readJsonBody(fakeRequest(["q=1"], { "content-type": "application/x-www-form-urlencoded" }), 1024),
      ),
    ).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(await code(readJsonBody(fakeRequest([]), 1024))).toBe("INVALID_REQUEST");
    expect(await code(readJsonBody(fakeRequest(["{nope"]), 1024))).toBe("MALFORMED_JSON");
    expect(await code(readJsonBody(fakeRequest(["[".repeat(40) + "]".repeat(40)]), 1024))).toBe(
      "MESSAGE_TOO_DEEP",
    );
  });

  it("marks body errors as the user's", async () => {
    const error = await readJsonBody(fakeRequest(["{nope"]), 1024).catch(
      (caught: unknown) => caught as InsituError,
    );
    expect(error).toBeInstanceOf(InsituError);
    expect((error as InsituError).category).toBe("user");
  });
});
