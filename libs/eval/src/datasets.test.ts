import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Benchmark, loadBenchmark, xbenchDecrypt, xbenchEncrypt } from "./datasets.js";
import { parseCsv } from "./rows.js";

// Sample files written for these tests (not taken from the benchmarks), in each benchmark's published shape.
const samples = fileURLToPath(new URL("../../../test/data/eval/", import.meta.url));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "insitu-eval-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loaders", () => {
  it("HLE: images become data-URI attachments named by id; category kept", async () => {
    const items = await loadBenchmark(Benchmark.hle, join(samples, "hle.jsonl"));
    expect(items).toHaveLength(5);
    const withImage = items.find((item) => item.id === "hle-s4");
    expect(withImage?.attachments).toEqual([
      { name: "hle-s4.png", dataUri: expect.stringMatching(/^data:image\/png;base64,iVBOR/) },
    ]);
    expect(withImage?.question).not.toContain("[Image path");
    expect(items[0]).toMatchObject({ id: "hle-s1", answer: "5", category: "Other", judge: { kind: "hle" } });
    expect(items[0]?.attachments).toBeUndefined();
  });

  it("DeepSearchQA CSV: quoted commas, quotes and newlines; answer type carried to the judge", async () => {
    const items = await loadBenchmark(Benchmark.dsqa, join(samples, "dsqa.csv"));
    expect(items.map((item) => item.id)).toEqual(["dsqa-1", "dsqa-2", "dsqa-3", "dsqa-4"]);
    expect(items[1]?.question).toBe('In which city is the fictional "Baker Street" detective\'s address?');
    expect(items[2]?.question).toBe("Name the three primary colours of light\n(additive).");
    expect(items[0]).toMatchObject({
      answer: "Helium, Neon",
      category: "Science",
      judge: { kind: "dsqa", answerType: "Set Answer" },
    });
  });

  it("FinSearchComp keeps T2 and T3 only (task_type, else the prompt_id prefix) with each item's judge prompts", async () => {
    const items = await loadBenchmark(Benchmark.finsearchcomp, join(samples, "finsearchcomp.json"));
    expect(items.map((item) => item.id)).toEqual(["(T2)fsc-2", "(T3)fsc-3"]);
    expect(items[1]?.judge).toMatchObject({
      kind: "finsearchcomp",
      systemPrompt: "You are a financial grader.",
    });
    expect(items[1]?.category).toBe("T3-complex");
  });

  it("xbench: prompt and answer decrypted with the row's canary (XOR over base64)", async () => {
    const items = await loadBenchmark(Benchmark.xbenchDeepsearch, join(samples, "xbench-deepsearch.csv"));
    expect(items.map((item) => [item.id, item.question, item.answer])).toEqual([
      ["xb-1", "单词 'banana' 中有几个元音字母？", "3"],
      ["xb-2", "How many vowels are in the word 'rhythm'?", "0"],
      ["xb-3", "2 的 10 次方是多少？", "1024"],
    ]);
    expect(xbenchDecrypt(xbenchEncrypt("round trip ✓", "k"), "k")).toBe("round trip ✓");
  });

  it("xbench-ScienceQA from parquet", async () => {
    const canary = "parquet-canary";
    const path = join(dir, "scienceqa.parquet");
    parquetWriteFile({
      filename: path,
      columnData: [
        { name: "id", data: ["sq-1", "sq-2"], type: "STRING" },
        {
          name: "prompt",
          data: [xbenchEncrypt("水的化学式是什么？", canary), xbenchEncrypt("What is 6 × 7?", canary)],
          type: "STRING",
        },
        { name: "answer", data: [xbenchEncrypt("H2O", canary), xbenchEncrypt("42", canary)], type: "STRING" },
        { name: "canary", data: [canary, canary], type: "STRING" },
      ],
    });
    const items = await loadBenchmark(Benchmark.xbenchScienceqa, path);
    expect(items.map((item) => [item.id, item.question, item.answer])).toEqual([
      ["sq-1", "水的化学式是什么？", "H2O"],
      ["sq-2", "What is 6 × 7?", "42"],
    ]);
  });

  it("plain JSONL of the user's own", async () => {
    const items = await loadBenchmark(Benchmark.jsonl, join(samples, "own.jsonl"));
    expect(items.map((item) => item.id)).toEqual(["own-1", "own-2", "own-3"]);
    expect(items[2]).toMatchObject({ category: "numbers", judge: { kind: "generic" } });
  });
});

describe("bad input fails before anything runs, naming the line", () => {
  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it("not JSONL", async () => {
    const path = await file("bad.jsonl", '{"id":"a","question":"q","answer":"1"}\nnot json\n');
    await expect(loadBenchmark(Benchmark.jsonl, path)).rejects.toMatchObject({
      code: "EVAL_DATASET_INVALID",
      message: expect.stringContaining("bad.jsonl:2"),
    });
  });

  it("duplicate ids", async () => {
    const path = await file(
      "dup.jsonl",
      '{"id":"a","question":"q","answer":"1"}\n\n{"id":"a","question":"r","answer":"2"}\n',
    );
    await expect(loadBenchmark(Benchmark.jsonl, path)).rejects.toThrow(
      /dup\.jsonl:3: duplicate id "a" \(first on line 1\)/,
    );
  });

  it("empty question", async () => {
    const path = await file("empty.jsonl", '{"id":"a","question":"  ","answer":"1"}\n');
    await expect(loadBenchmark(Benchmark.jsonl, path)).rejects.toThrow(
      /empty\.jsonl:1: missing or empty "question"/,
    );
  });

  it("a CSV row with the wrong number of fields, an unterminated quote", async () => {
    expect(() => parseCsv("a,b\n1,2,3\n", "x.csv")).toThrow(/x\.csv:2: 3 fields, the header has 2/);
    expect(() => parseCsv('a,b\n1,"2\n', "y.csv")).toThrow(/y\.csv:2: unterminated quoted field/);
  });

  it("an unknown file type and a missing file", async () => {
    await expect(loadBenchmark(Benchmark.jsonl, await file("x.txt", ""))).rejects.toThrow(
      /unsupported dataset file type/,
    );
    await expect(loadBenchmark(Benchmark.jsonl, join(dir, "nope.jsonl"))).rejects.toThrow(
      /cannot read dataset file/,
    );
  });

  it("an HLE image that is not a data URI", async () => {
    const path = await file("img.jsonl", '{"id":"a","question":"q","answer":"1","image":"http://x/y.png"}\n');
    await expect(loadBenchmark(Benchmark.hle, path)).rejects.toThrow(
      /img\.jsonl:1: "image" is not a base64 data URI/,
    );
  });
});
