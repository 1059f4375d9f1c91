import { describe, expect, it } from "vitest";
import { type ClusterCandidate, preCluster, similarity } from "./cluster.js";
import { applyMapping, mappingProblems } from "./mapping.js";

const tool = (
  name: string,
  description: string,
  input: string[],
  output: string[],
  fresh = true,
): ClusterCandidate => ({
  hash: `sha256:${name}${description.length}`,
  name,
  description,
  inputSchema: {
    type: "object",
    properties: Object.fromEntries(input.map((field) => [field, { type: "string" }])),
    required: input,
  },
  outputSchema: { type: "object", properties: Object.fromEntries(output.map((field) => [field, {}])) },
  fresh,
});

const countVowels = tool(
  "count_vowels",
  "Counts the vowels in a text and returns the count.",
  ["text"],
  ["vowels"],
);
const tallyVowels = tool(
  "tally_vowels",
  "Tallies the vowels of a word and returns the count.",
  ["word"],
  ["vowels"],
);
const reverseText = tool("reverse_text", "Reverses the characters of a text.", ["text"], ["reversed"]);
const fetchWeather = tool(
  "fetch_weather",
  "Current temperature in a city from a weather API.",
  ["city"],
  ["celsius"],
);

describe("lexical pre-clustering", () => {
  it("links near-duplicates by name words, description and fields, and keeps unrelated tools apart", () => {
    expect(similarity(countVowels, tallyVowels)).toBeGreaterThanOrEqual(0.35);
    expect(similarity(countVowels, fetchWeather)).toBeLessThan(0.1);
    expect(similarity(reverseText, fetchWeather)).toBeLessThan(0.35);
    const groups = preCluster([fetchWeather, reverseText, tallyVowels, countVowels]);
    expect(groups.map((group) => group.map((member) => member.name))).toEqual([
      ["count_vowels", "tally_vowels"],
    ]);
  });

  it("is not put off by a wordier description of the same thing", () => {
    const wordy = tool(
      "count_vowels",
      "Counts the vowels (a, e, i, o, u; case-insensitive) in a text and returns the count.",
      ["text"],
      ["vowels"],
    );
    const terse = tool(
      "tally_vowels",
      "Tallies the vowels (a, e, i, o, u) of a word and returns the count.",
      ["word"],
      ["vowels"],
    );
    expect(similarity(wordy, terse)).toBeGreaterThanOrEqual(0.35);
  });

  it("always groups an offered rival with the library tool of the same name", () => {
    const rival = { ...tool("reverse_text", "Flips a string.", ["value"], ["out"]), hash: "sha256:rival" };
    expect(similarity(reverseText, rival)).toBe(1);
    expect(preCluster([{ ...reverseText, fresh: false }, rival])).toHaveLength(1);
  });

  it("proposes no group made only of library tools (judged at an earlier barrier)", () => {
    expect(
      preCluster([
        { ...countVowels, fresh: false },
        { ...tallyVowels, fresh: false },
      ]),
    ).toEqual([]);
  });

  it("caps a group's size, keeping the closest members together", () => {
    const many = Array.from({ length: 9 }, (_, index) =>
      tool(
        `count_vowels_${["a", "b", "c", "d", "e", "f", "g", "h", "i"][index]}`,
        "Counts the vowels in a text.",
        ["text"],
        ["vowels"],
      ),
    );
    const groups = preCluster(many, { maxGroupSize: 4 });
    expect(Math.max(...groups.map((group) => group.length))).toBeLessThanOrEqual(4);
  });
});

describe("input mappings", () => {
  it("renames fields and adds constants", () => {
    expect(
      applyMapping({ rename: { word: "text" }, constants: { mode: "vowels" } }, { word: "idea" }),
    ).toEqual({
      text: "idea",
      mode: "vowels",
    });
  });

  it("names every unsound part of a declared mapping", () => {
    const member = tallyVowels.inputSchema;
    const merged = countVowels.inputSchema;
    expect(mappingProblems({ rename: { word: "text" }, constants: {} }, member, merged)).toEqual([]);
    expect(mappingProblems({ rename: {}, constants: {} }, member, merged)).toEqual([
      'member field "word" maps to "word", which the merged tool does not take',
      'the merged tool requires "text", which the mapping never sets',
    ]);
    expect(
      mappingProblems({ rename: { word: "text", extra: "x" }, constants: { level: 2 } }, member, merged),
    ).toEqual([
      'rename names "extra", which the member does not take',
      'constant "level" is not a field of the merged tool',
    ]);
  });
});
