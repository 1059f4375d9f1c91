import { describe, expect, it } from "vitest";
import { Bm25Index } from "./bm25.js";
import { HashingEmbedder } from "./embedding.js";
import { normalizeLexical, reciprocalRankFusion } from "./fuse.js";
import { documentTokens, parameterNames, tokenize } from "./tokenize.js";
import { EXACT_SCAN_BUDGET, VectorIndex } from "./vector-index.js";

describe("tokenize", () => {
  it("splits snake and camel case, drops stop words and folds plurals and -ing", () => {
    expect(tokenize("convert_currency: Converts the prices of stockTickers")).toEqual([
      "convert",
      "currency",
      "convert",
      "price",
      "stock",
      "ticker",
    ]);
    expect(tokenize("parsing cities")).toEqual(["pars", "city"]);
    expect(tokenize("HTTPRequest fetchURLText")).toEqual(["http", "request", "fetch", "url", "text"]);
    // Question words carry no meaning for retrieval.
    expect(tokenize("Which of them did he win, and how many?")).toEqual(["win"]);
  });

  it("indexes CJK text as character bigrams, beside the words of other scripts", () => {
    expect(tokenize("北京奥运会")).toEqual(["北京", "京奥", "奥运", "运会"]);
    expect(tokenize("2008年")).toEqual(["2008", "年"]);
    expect(tokenize("PDF文件の読み取り")).toEqual(["pdf", "文件", "件の", "の読", "読み", "み取", "取り"]);
    expect(tokenize("서울 날씨")).toEqual(["서울", "날씨"]);
  });

  it("weights name tokens three times and parameters once", () => {
    const tokens = documentTokens({
      name: "fetch_weather",
      description: "Weather now.",
      parameterNames: ["city"],
    });
    expect(tokens.filter((token) => token === "fetch")).toHaveLength(3);
    expect(tokens.filter((token) => token === "city")).toHaveLength(1);
    expect(tokens.filter((token) => token === "weather")).toHaveLength(4);
    expect(parameterNames({ type: "object", properties: { a: {}, b: { properties: { c: {} } } } })).toEqual([
      "a",
      "b",
      "c",
    ]);
  });
});

describe("BM25", () => {
  it("prefers rarer terms and shorter documents, and forgets removed documents", () => {
    const index = new Bm25Index();
    index.add(1, tokenize("exchange rate currency"));
    index.add(2, tokenize("currency symbol list currency names and many other unrelated words here"));
    index.add(3, tokenize("weather city"));
    const hits = index.search(tokenize("currency exchange"), 10);
    expect(hits.map((hit) => hit.id)).toEqual([1, 2]);
    index.remove(1);
    expect(index.search(tokenize("exchange"), 10)).toEqual([]);
    expect(index.search(tokenize("currency"), 10).map((hit) => hit.id)).toEqual([2]);
    expect(index.search(tokenize("currency"), 10, (id) => id !== 2)).toEqual([]);
    expect(index.size).toBe(2);
  });
});

describe("vector index", () => {
  it("finds the nearest vectors exactly when small", () => {
    const index = new VectorIndex(3);
    index.add(0, [1, 0, 0]);
    index.add(1, [0, 1, 0]);
    index.add(2, [0.9, 0.1, 0]);
    const hits = index.search([1, 0, 0], 2);
    expect(hits.map((hit) => hit.id)).toEqual([0, 2]);
    expect(hits[0]?.score).toBeCloseTo(1);
    index.remove(0);
    expect(index.search([1, 0, 0], 1).map((hit) => hit.id)).toEqual([2]);
  });

  it("keeps recall with the sign-bit prefilter above the exact-scan budget", () => {
    const dimensions = 256;
    const rows = Math.ceil(EXACT_SCAN_BUDGET / dimensions) + 1000;
    let state = 7;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648 - 0.5;
    };
    const index = new VectorIndex(dimensions);
    for (let id = 0; id < rows; id++) index.add(id, Array.from({ length: dimensions }, next));
    let found = 0;
    for (let query = 0; query < 20; query++) {
      const vector = Array.from({ length: dimensions }, next);
      const exact = index.search(vector, 10, undefined, { exact: true }).map((hit) => hit.id);
      const fast = new Set(index.search(vector, 10).map((hit) => hit.id));
      found += exact.filter((id) => fast.has(id)).length;
    }
    // Random vectors are the hard case for sign bits (no structure); real embeddings do better.
    expect(found / 200).toBeGreaterThan(0.8);
  });
});

describe("fusion", () => {
  it("adds reciprocal ranks, so agreement between rankers wins", () => {
    const fused = reciprocalRankFusion(
      [
        { id: 1, score: 9 },
        { id: 2, score: 5 },
      ],
      [
        { id: 2, score: 0.9 },
        { id: 3, score: 0.8 },
      ],
      3,
    );
    expect(fused.map((hit) => hit.id)).toEqual([2, 1, 3]);
    expect(fused[0]).toMatchObject({ lexicalScore: 5, vectorScore: 0.9 });
    expect(
      normalizeLexical([
        { id: 4, score: 8 },
        { id: 5, score: 2 },
      ]).map((hit) => hit.score),
    ).toEqual([1, 0.25]);
  });

  it("the offline embedder is deterministic and puts shared words close together", async () => {
    const embedder = new HashingEmbedder(128);
    const [a, b, c] = await embedder.embed([
      "convert currency rate",
      "currency rate today",
      "weather in paris",
    ]);
    const cosine = (x: number[], y: number[]) => {
      let dot = 0;
      let nx = 0;
      let ny = 0;
      x.forEach((value, index) => {
        dot += value * (y[index] ?? 0);
        nx += value * value;
        ny += (y[index] ?? 0) ** 2;
      });
      return dot / Math.sqrt(nx * ny);
    };
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!));
    expect(new HashingEmbedder(128).embedOne("convert currency rate")).toEqual(a);
  });
});
