import { describe, expect, it } from "vitest";
import { ErrorCategory, InsituError, isInsituError } from "./index.js";

describe("InsituError", () => {
  it("survives a JSON round trip with code, category, retryable, details and cause", () => {
    const inner = new InsituError("disk full", { code: "DISK_FULL", retryable: true });
    const error = new InsituError("could not store tool", {
      code: "STORE_FAILED",
      category: ErrorCategory.thirdParty,
      retryable: true,
      details: { tool: "search_web", attempts: 3 },
      cause: inner,
    });
    const rebuilt = InsituError.fromJSON(JSON.parse(JSON.stringify(error)));
    expect(rebuilt).toBeInstanceOf(InsituError);
    expect(rebuilt.code).toBe("STORE_FAILED");
    expect(rebuilt.category).toBe("third-party");
    expect(rebuilt.retryable).toBe(true);
    expect(rebuilt.details).toEqual({ tool: "search_web", attempts: 3 });
    expect(isInsituError(rebuilt.cause, "DISK_FULL")).toBe(true);
  });

  it("refuses codes that are not UPPER_SNAKE", () => {
    expect(() => new InsituError("x", { code: "notSnake" })).toThrow(TypeError);
  });

  it("turns an unrecognisable payload into MALFORMED_ERROR instead of throwing", () => {
    const rebuilt = InsituError.fromJSON({ message: "hi" });
    expect(rebuilt.code).toBe("MALFORMED_ERROR");
  });

  it("keeps details JSON-safe: drops functions, breaks cycles, stringifies bigints", () => {
    const cyclic: Record<string, unknown> = { n: 10n, f: () => 1 };
    cyclic.self = cyclic;
    const error = new InsituError("x", { code: "X", details: { cyclic } as never });
    expect(JSON.parse(JSON.stringify(error.details))).toEqual({ cyclic: { n: "10", self: "[circular]" } });
  });

  it("wraps foreign errors as INTERNAL and keeps the original as cause", () => {
    const original = new RangeError("boom");
    const wrapped = InsituError.from(original);
    expect(wrapped.code).toBe("INTERNAL");
    expect(wrapped.cause).toBe(original);
  });
});
