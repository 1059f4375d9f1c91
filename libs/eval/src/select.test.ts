import { describe, expect, it } from "vitest";
import { mulberry32, selectItems } from "./select.js";

const items = Array.from({ length: 20 }, (_, i) => i);

describe("selectItems", () => {
  it("keeps the dataset order by default", () => {
    expect(selectItems(items, {})).toEqual(items);
    expect(selectItems(items, { limit: 3 })).toEqual([0, 1, 2]);
  });

  it("a seeded sample is the same every time, in dataset order, and differs by seed", () => {
    const a = selectItems(items, { sample: 5, seed: 7 });
    expect(a).toHaveLength(5);
    expect(selectItems(items, { sample: 5, seed: 7 })).toEqual(a);
    expect(new Set(a).size).toBe(5);
    const b = selectItems(items, { sample: 5, seed: 8 });
    expect(b).not.toEqual(a);
    const inOrder = selectItems(items, { sample: 5 });
    expect([...inOrder].sort((x, y) => x - y)).toEqual(inOrder);
  });

  it("a seed shuffles to a fixed order", () => {
    const shuffled = selectItems(items, { seed: 42 });
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
    expect(selectItems(items, { seed: 42 })).toEqual(shuffled);
  });

  it("mulberry32 is deterministic and in [0, 1)", () => {
    const r = mulberry32(1);
    const values = [r(), r(), r()];
    const again = mulberry32(1);
    expect([again(), again(), again()]).toEqual(values);
    for (const v of values) expect(v >= 0 && v < 1).toBe(true);
  });
});
