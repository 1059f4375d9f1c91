import { describe, expect, it } from "vitest";
import { CodeCache } from "./code-cache.js";

describe("CodeCache (ADR 0160)", () => {
  it("evicts the least recently used code once the bytes held pass the bound", () => {
    const cache = new CodeCache(10);
    cache.set("a", "aaaa");
    cache.set("b", "bbbb");
    expect(cache.bytes).toBe(8);
    // Reading `a` makes `b` the least recently used.
    expect(cache.get("a")).toBe("aaaa");
    cache.set("c", "cccc");
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe("aaaa");
    expect(cache.get("c")).toBe("cccc");
    expect(cache.bytes).toBe(8);
    expect(cache.size).toBe(2);
  });

  it("counts bytes, not characters, and evicts as many entries as a large one needs", () => {
    const cache = new CodeCache(12);
    cache.set("a", "aaa");
    cache.set("b", "bbb");
    cache.set("c", "ccc");
    // Two-byte characters: 5 of them are 10 bytes, so `a`, `b` and `c` (9 bytes) must make room.
    cache.set("d", "ééééé");
    expect(cache.bytes).toBe(10);
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([undefined, undefined, undefined]);
    expect(cache.get("d")).toBe("ééééé");
  });

  it("does not keep a module larger than the whole bound, nor anything with a bound of 0", () => {
    const cache = new CodeCache(4);
    cache.set("small", "ab");
    cache.set("big", "abcdef");
    expect(cache.get("big")).toBeUndefined();
    expect(cache.get("small")).toBe("ab");
    const none = new CodeCache(0);
    none.set("a", "a");
    expect(none.size).toBe(0);
  });

  it("replaces an entry under the same hash without counting it twice", () => {
    const cache = new CodeCache(10);
    cache.set("a", "aaaa");
    cache.set("a", "aaaa");
    expect(cache.bytes).toBe(4);
    expect(cache.size).toBe(1);
  });
});
