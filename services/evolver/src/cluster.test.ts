import { describe, expect, it } from "vitest";
import { type ClusterCandidate, clusterText, cosine, preCluster, similarity } from "./cluster.js";
import { createLogger } from "@insitu/telemetry";
import { type EvolverPorts, clusterVectors } from "./absorb.js";
import { CandidateVectors, type ClusterEmbedder } from "./embeddings.js";
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

/**
 * FAKE embedder, labelled by hand: each tool's vector stands for what a semantic model would say
 * about it (mirror_string means what reverse_text means; uppercase_text is another text transform,
 * near but not the same). It records what it was asked to embed.
 */
class LabelledFakeEmbedder implements ClusterEmbedder {
  readonly model = "fake-labelled";
  readonly calls: string[][] = [];
  constructor(private readonly labels: Record<string, number[]>) {}
  async embed(texts: string[]): Promise<number[][]> {
    this.calls.push(texts);
    return texts.map((text) => {
      const name = Object.keys(this.labels).find((label) => text.startsWith(`${label.replace(/_/g, " ")}:`));
      if (!name) throw new Error(`no label for ${text}`);
      return this.labels[name] as number[];
    });
  }
}

const mirrorString = tool("mirror_string", "Returns the string written backwards.", ["s"], ["result"]);
const uppercaseText = tool("uppercase_text", "Converts a text to upper case.", ["text"], ["upper"]);
const LABELS: Record<string, number[]> = {
  reverse_text: [1, 0, 0, 0],
  mirror_string: [0.97, 0.24, 0, 0],
  uppercase_text: [0.6, 0, 0.8, 0],
  count_vowels: [0, 0, 0, 1],
  // A model that happens to place two lexical near-duplicates far apart.
  tally_vowels: [0, 0.995, 0, 0.1],
  fetch_weather: [0, 1, 0, 0],
};

describe("pre-clustering with embeddings (labelled FAKE embedder)", () => {
  const names = (groups: ClusterCandidate[][]) => groups.map((group) => group.map((member) => member.name));
  const embedded = async (candidates: ClusterCandidate[]) => {
    const vectors = new CandidateVectors(new LabelledFakeEmbedder(LABELS), { threshold: 0.85 });
    return { vectors: await vectors.vectors(candidates), embeddingThreshold: vectors.threshold };
  };

  it("catches a near-duplicate worded differently, which the lexical method misses", async () => {
    const candidates = [reverseText, mirrorString, fetchWeather];
    expect(similarity(reverseText, mirrorString)).toBeLessThan(0.1);
    expect(preCluster(candidates)).toEqual([]);
    expect(names(preCluster(candidates, await embedded(candidates)))).toEqual([
      ["mirror_string", "reverse_text"],
    ]);
  });

  it("does not group a related but different capability (a combined score would have)", async () => {
    const candidates = [reverseText, uppercaseText];
    const options = await embedded(candidates);
    const lexical = similarity(reverseText, uppercaseText);
    const semantic = cosine(
      options.vectors.get(reverseText.hash) as number[],
      options.vectors.get(uppercaseText.hash) as number[],
    );
    expect(lexical).toBeLessThan(0.35);
    expect(semantic).toBeLessThan(0.85);
    // The score the evolver used before ADR 0116 (an even blend at the lexical bar) links them.
    expect(0.5 * lexical + 0.5 * semantic).toBeGreaterThanOrEqual(0.35);
    expect(preCluster(candidates, options)).toEqual([]);
  });

  it("never drops a lexical link because the embeddings disagree", async () => {
    const candidates = [countVowels, tallyVowels];
    const options = await embedded(candidates);
    expect(
      cosine(
        options.vectors.get(countVowels.hash) as number[],
        options.vectors.get(tallyVowels.hash) as number[],
      ),
    ).toBeLessThan(0.2);
    expect(names(preCluster(candidates, options))).toEqual([["count_vowels", "tally_vowels"]]);
  });

  it("embeds name, description and a summary of the schemas, each version once per process", async () => {
    const embedder = new LabelledFakeEmbedder(LABELS);
    const vectors = new CandidateVectors(embedder);
    await vectors.vectors([reverseText, mirrorString]);
    await vectors.vectors([reverseText, mirrorString, fetchWeather]);
    expect(embedder.calls).toEqual([
      [clusterText(reverseText), clusterText(mirrorString)],
      [clusterText(fetchWeather)],
    ]);
    expect(clusterText(mirrorString)).toBe(
      "mirror string: Returns the string written backwards. Input: s. Output: result.",
    );
  });
});

describe("an embedder outage at a barrier", () => {
  it("makes that barrier's pre-clustering lexical instead of failing it", async () => {
    const lines: string[] = [];
    const failing: ClusterEmbedder = {
      model: "fake-down",
      embed: async () => {
        throw new Error("503 from the embedding provider");
      },
    };
    const ports = {
      embeddings: new CandidateVectors(failing),
      logger: createLogger({ service: "evolver-test", level: "warn", write: (line) => lines.push(line) }),
    } as unknown as EvolverPorts;
    const options = await clusterVectors("b1", [countVowels, tallyVowels], ports);
    expect(options).toEqual({});
    expect(preCluster([countVowels, tallyVowels], options)).toHaveLength(1);
    expect(lines.join("\n")).toMatch(/the embedder failed; this barrier pre-clusters lexically/);
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
