/**
 * Data behind ADR 0116 (how the evolver fuses lexical and embedding similarity): pairs of the
 * retrieval-quality library (214 distinct tools, so every linked pair is a false one) and 8
 * hand-labelled near-duplicate pairs worded differently, under each fusion rule, with the offline
 * hashing embedder (the only embedder that runs here; it sees surface words, not meaning).
 * Run: npx tsx services/evolver/scripts/fusion-data.ts
 */
import { readFileSync, readdirSync } from "node:fs";
import { HashingEmbedder } from "@insitu/registry";
import { type ClusterCandidate, clusterText, cosine, similarity } from "../src/cluster.js";

const dir = "test/data/retrieval";
const tool = (
  name: string,
  description: string,
  input: string[],
  output: string[] = [],
): ClusterCandidate => ({
  hash: name + description.length,
  name,
  description,
  inputSchema: { type: "object", properties: Object.fromEntries(input.map((f) => [f, {}])) },
  outputSchema: { type: "object", properties: Object.fromEntries(output.map((f) => [f, {}])) },
  fresh: true,
});
const library: ClusterCandidate[] = [];
for (const file of readdirSync(dir).filter((f) => f.startsWith("tools-"))) {
  for (const line of readFileSync(`${dir}/${file}`, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const [name, description, params] = line.split("\t");
    library.push(tool(name!, description!, (params ?? "").split(",").filter(Boolean)));
  }
}
// Hand-written near-duplicates: same capability, different name and wording (what a second task writes).
const positives: [ClusterCandidate, ClusterCandidate][] = [
  [
    tool("count_vowels", "Counts the vowels in a text and returns the count.", ["text"], ["vowels"]),
    tool("tally_vowels", "Tallies the vowels of a word and returns the count.", ["word"], ["vowels"]),
  ],
  [
    tool(
      "convert_temperature",
      "Converts a temperature between Celsius, Fahrenheit and Kelvin.",
      ["value", "from_unit", "to_unit"],
      ["value"],
    ),
    tool("celsius_to_fahrenheit", "Turns degrees C into degrees F.", ["degrees"], ["result"]),
  ],
  [
    tool("fetch_page_text", "Downloads a web page and returns its readable text.", ["url"], ["text"]),
    tool(
      "scrape_article",
      "Gets the main article content of an HTML document at an address.",
      ["address"],
      ["content"],
    ),
  ],
  [
    tool("compute_factorial", "Computes n! for a non-negative integer n.", ["n"], ["value"]),
    tool("factorial_of_number", "Product of all positive integers up to a number.", ["number"], ["product"]),
  ],
  [
    tool("days_between_dates", "Number of days between two calendar dates.", ["start", "end"], ["days"]),
    tool("date_difference", "How many days separate two ISO dates.", ["from", "to"], ["days"]),
  ],
  [
    tool("reverse_text", "Reverses a text character by character.", ["text"], ["reversed"]),
    tool("mirror_string", "Returns the string written backwards.", ["s"], ["result"]),
  ],
  [
    tool("is_prime", "Checks whether an integer is a prime number.", ["n"], ["prime"]),
    tool(
      "primality_test",
      "Tells if a whole number has no divisors other than 1 and itself.",
      ["number"],
      ["result"],
    ),
  ],
  [
    tool("word_frequencies", "Counts how often each word occurs in a text.", ["text"], ["counts"]),
    tool("term_histogram", "Histogram of token occurrences in a document.", ["document"], ["histogram"]),
  ],
];
const embedder = new HashingEmbedder();
const vec = (c: ClusterCandidate) => embedder.embedOne(clusterText(c));
const vectors = new Map(library.map((c) => [c.hash, vec(c)]));
const neg: { lex: number; cos: number }[] = [];
for (let i = 0; i < library.length; i++)
  for (let j = i + 1; j < library.length; j++) {
    const a = library[i]!,
      b = library[j]!;
    neg.push({ lex: similarity(a, b), cos: cosine(vectors.get(a.hash)!, vectors.get(b.hash)!) });
  }
const pos = positives.map(([a, b]) => ({
  pair: `${a.name}/${b.name}`,
  lex: similarity(a, b),
  cos: cosine(vec(a), vec(b)),
}));
const rules: Record<string, (p: { lex: number; cos: number }) => boolean> = {
  "lexical >= 0.35": (p) => p.lex >= 0.35,
  "combined 0.5*lex+0.5*cos >= 0.35 (old code)": (p) => 0.5 * p.lex + 0.5 * Math.max(0, p.cos) >= 0.35,
  "union lex>=0.35 | cos>=0.85": (p) => p.lex >= 0.35 || p.cos >= 0.85,
  "union lex>=0.35 | cos>=0.6": (p) => p.lex >= 0.35 || p.cos >= 0.6,
  "union lex>=0.35 | cos>=0.4": (p) => p.lex >= 0.35 || p.cos >= 0.4,
};
console.log(
  `library ${library.length} distinct tools → ${neg.length} negative pairs; ${pos.length} labelled near-duplicate pairs`,
);
for (const p of pos)
  console.log(`  positive ${p.pair}: lexical ${p.lex.toFixed(2)} cosine ${p.cos.toFixed(2)}`);
const q = (xs: number[], f: number) => xs.sort((a, b) => a - b)[Math.floor(f * (xs.length - 1))]!.toFixed(2);
console.log(
  `negatives cosine p50 ${q(
    neg.map((n) => n.cos),
    0.5,
  )} p99 ${q(
    neg.map((n) => n.cos),
    0.99,
  )} max ${q(
    neg.map((n) => n.cos),
    1,
  )}; lexical p99 ${q(
    neg.map((n) => n.lex),
    0.99,
  )}`,
);
for (const [name, rule] of Object.entries(rules))
  console.log(
    `${name}: positives ${pos.filter(rule).length}/${pos.length}, false pairs ${neg.filter(rule).length}/${neg.length}`,
  );
