/**
 * Registry retrieval benchmark (issue 4): a generated, realistic library of N tools (default
 * 10,000) stored in a real nats-server (JetStream KV + Object Store), then top-k search latency,
 * lexical (BM25) and hybrid (BM25 + 768-dimension vectors, reciprocal-rank fusion).
 * Target: p99 ≤ 10 ms in both modes at 10,000 tools.
 *
 *   npx tsx test/bench/registry/bench.ts [--tools 10000] [--queries 2000] [--dimensions 768] [--k 10]
 *
 * On a shared machine the wall-clock tail measures the other processes; the bench prints CPU time
 * per query beside it and the load average. `nice -n -15 npx tsx …` (as root) gives the bench
 * (and the nats-server it starts) the CPU share a deployed registry would have on its own cores.
 *
 * "in-process" is `Registry.search` as the endpoint handler runs it (read barrier on `current`
 * included: one KV read); "via bus" adds the NATS request/reply round trip and envelope checks.
 * The hybrid mode's vectors come from the offline feature-hashing embedder (not a semantic model):
 * the arithmetic — 10,000 × 768 cosine scan — is the real cost; a hosted model adds its own
 * network time to embed the query, which no index can remove.
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { connectBus, startNatsServer } from "@insitu/bus";
import { RegistrySearch } from "@insitu/contracts";
import {
  EXACT_SCAN_BUDGET,
  HashingEmbedder,
  Registry,
  VectorIndex,
  embeddingText,
  registryEndpoints,
} from "@insitu/registry";
import { toolSource } from "@insitu/registry/testing";
import { createLogger } from "@insitu/telemetry";
import { computeToolHash } from "@insitu/tool-kit";
import { exitOnMiss, target as benchTarget } from "../targets.js";

const { values } = parseArgs({
  options: {
    tools: { type: "string", default: "10000" },
    queries: { type: "string", default: "2000" },
    dimensions: { type: "string", default: "768" },
    k: { type: "string", default: "10" },
  },
});
const TOOLS = Number(values.tools);
const QUERIES = Number(values.queries);
const DIMENSIONS = Number(values.dimensions);
const K = Number(values.k);

// ---------------------------------------------------------------- a realistic library

/** A small deterministic PRNG so every run builds the same library and queries. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(42);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

// Verbs and targets of the kind the original system's libraries grew (web, data, finance, text…).
const VERBS = [
  "fetch",
  "parse",
  "convert",
  "compute",
  "extract",
  "search",
  "summarize",
  "validate",
  "format",
  "calculate",
  "lookup",
  "download",
  "filter",
  "sort",
  "merge",
  "split",
  "count",
  "detect",
  "translate",
  "normalize",
  "geocode",
  "resolve",
  "list",
  "get",
  "estimate",
  "compare",
  "rank",
  "aggregate",
  "render",
  "scrape",
] as const;
const TARGETS = [
  ["weather", "temperature, humidity and wind for a city"],
  ["stock_price", "the latest trading price of a stock ticker"],
  ["exchange_rate", "the exchange rate between two currencies"],
  ["csv_table", "rows and columns of a CSV document"],
  ["html_text", "readable text from an HTML page"],
  ["pdf_text", "the text layer of a PDF document"],
  ["wikipedia_summary", "the lead section of a Wikipedia article"],
  ["date_difference", "the number of days between two calendar dates"],
  ["unit_conversion", "a quantity from one measurement unit to another"],
  ["json_path", "values at a JSONPath inside a JSON document"],
  ["word_frequency", "how often each word occurs in a text"],
  ["population", "the population of a country or city by year"],
  ["gdp_growth", "annual GDP growth of a country"],
  ["crypto_price", "the spot price of a cryptocurrency"],
  ["timezone_offset", "the UTC offset of a time zone at a date"],
  ["ip_location", "the approximate location of an IP address"],
  ["movie_rating", "ratings and release year of a film"],
  ["chemical_formula", "the molar mass of a chemical formula"],
  ["prime_factors", "the prime factorization of an integer"],
  ["regex_matches", "all matches of a regular expression in a text"],
  ["sales_report", "monthly sales totals from a spreadsheet"],
  ["flight_status", "departure and arrival status of a flight"],
  ["news_headlines", "recent news headlines on a topic"],
  ["patent_record", "the filing date and assignee of a patent"],
  ["github_repository", "stars, forks and license of a repository"],
  ["sports_score", "the final score of a sports match"],
  ["elevation_profile", "elevation along a route of coordinates"],
  ["nutrition_facts", "calories and macronutrients of a food"],
  ["book_metadata", "author, publisher and ISBN of a book"],
  ["statistics_summary", "mean, median and standard deviation of numbers"],
  ["polynomial_roots", "the real roots of a polynomial"],
  ["matrix_determinant", "the determinant of a square matrix"],
  ["sitemap_urls", "every URL listed in a website sitemap"],
  ["email_addresses", "email addresses mentioned in a document"],
  ["citation_count", "how many times a paper has been cited"],
  ["zip_code", "the city and region of a postal code"],
  ["holiday_calendar", "public holidays of a country in a year"],
  ["earthquake_events", "recent earthquakes above a magnitude"],
  ["air_quality", "the air quality index of a city"],
  ["company_filings", "recent regulatory filings of a company"],
] as const;
const QUALIFIERS = [
  "",
  "",
  "",
  "batch",
  "v2",
  "by_date",
  "by_region",
  "detailed",
  "fast",
  "cached",
  "from_url",
  "from_text",
];
const PARAMETERS = [
  "city",
  "ticker",
  "currency_from",
  "currency_to",
  "url",
  "text",
  "csv_text",
  "date_from",
  "date_to",
  "country",
  "year",
  "query",
  "max_results",
  "language",
  "unit_from",
  "unit_to",
  "value",
  "path",
  "symbol",
  "limit",
  "latitude",
  "longitude",
  "isbn",
  "title",
  "expression",
  "numbers",
  "pattern",
  "region",
  "format",
  "page",
];
const SOURCES = [
  "a public API",
  "the open web",
  "a local computation",
  "an official statistics office",
  "a JSON feed",
];

interface GeneratedTool {
  name: string;
  description: string;
  parameters: string[];
}

function generateLibrary(count: number): GeneratedTool[] {
  const tools: GeneratedTool[] = [];
  const names = new Set<string>();
  while (tools.length < count) {
    const verb = pick(VERBS);
    const [target, what] = pick(TARGETS);
    const qualifier = pick(QUALIFIERS);
    let name = [verb, target, qualifier].filter(Boolean).join("_");
    if (names.has(name)) name = `${name}_${tools.length.toString(36)}`;
    if (names.has(name) || name.length > 64) continue;
    names.add(name);
    const parameters = [
      ...new Set(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(PARAMETERS))),
    ];
    const description =
      `${verb[0]?.toUpperCase()}${verb.slice(1)}s ${what} using ${pick(SOURCES)}. ` +
      `Input: ${parameters.join(", ")}. Returns a JSON object; fails with a clear message when the input is invalid.`;
    tools.push({ name, description, parameters });
  }
  return tools;
}

function generateQueries(count: number): string[] {
  const templates = [
    (what: string, parameter: string) => `What is ${what} for the given ${parameter}?`,
    (what: string) => `I need ${what} to answer the question`,
    (what: string, parameter: string) => `find ${what} given a ${parameter.replace(/_/g, " ")}`,
    (what: string) => `Tool that returns ${what}`,
  ];
  return Array.from({ length: count }, () => {
    const [, what] = pick(TARGETS);
    return pick(templates)(what, pick(PARAMETERS));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Wall-clock and CPU-time percentiles. CPU time (process.cpuUsage, µs resolution) is reported
 * beside wall time because on a shared 2-core machine the wall-clock tail mostly measures the
 * other processes' load; CPU time per query is what the index itself costs.
 */
async function measure(
  label: string,
  queries: string[],
  run: (query: string) => Promise<unknown>,
): Promise<number[]> {
  for (const query of queries.slice(0, 200)) await run(query); // warm-up (JIT, caches)
  const wall: number[] = [];
  const cpu: number[] = [];
  for (const query of queries) {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    await run(query);
    wall.push(performance.now() - started);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const format = (value: number) => value.toFixed(3).padStart(7);
  console.log(
    `${label.padEnd(34)} wall p50 ${format(percentile(wall, 50))} p99 ${format(percentile(wall, 99))} ms | ` +
      `cpu p50 ${format(percentile(cpu, 50))} p99 ${format(percentile(cpu, 99))} ms`,
  );
  return wall;
}

// ---------------------------------------------------------------- run

const logger = createLogger({ service: "registry-bench", level: "error" });
const server = await startNatsServer();
const bus = await connectBus({ url: server.url, prefix: "bench", name: "registry-bench", logger });
try {
  const embedder = new HashingEmbedder(DIMENSIONS);
  const registry = await Registry.open(bus, { logger, embeddings: embedder });
  const library = generateLibrary(TOOLS);

  let started = performance.now();
  const hashes: string[] = [];
  const time = new Date().toISOString();
  for (let start = 0; start < library.length; start += 256) {
    await Promise.all(
      library.slice(start, start + 256).map(async (tool, offset) => {
        const source = toolSource(tool.name, tool.description, tool.parameters);
        const hash = computeToolHash(source);
        hashes[start + offset] = hash;
        await registry.storeVersion({
          hash,
          name: tool.name,
          manifest: source.manifest,
          origin: "imported",
          parents: [],
          createdAt: time,
          evidence: [{ kind: "import", summary: "generated for the bench", time }],
          code: source.code,
          tests: source.tests,
        });
      }),
    );
  }
  const snapshot = await registry.commit({
    kind: "import",
    reason: "bench library",
    change: async (tools) =>
      library.map((tool, index) => {
        tools.set(tool.name, hashes[index] as string);
        return { op: "add" as const, name: tool.name, hash: hashes[index] as string };
      }),
  });
  const storeSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  await registry.embed(hashes);
  const embedSeconds = (performance.now() - started) / 1000;

  // A second replica loading everything from JetStream: what a registry restart costs.
  started = performance.now();
  const replica = await Registry.open(
    await connectBus({ url: server.url, prefix: "bench", name: "replica", logger }),
    {
      logger,
      embeddings: embedder,
    },
  );
  const loadSeconds = (performance.now() - started) / 1000;

  await bus.serve({
    name: "registry",
    version: "0.1.0",
    description: "bench",
    endpoints: registryEndpoints(registry),
  });

  console.log(
    `library: ${registry.view.currentTools.size} tools in snapshot ${snapshot.number} ` +
      `(${registry.view.search.size} indexed, ${registry.view.search.vectorCount} vectors of ${DIMENSIONS} dimensions)`,
  );
  console.log(
    `stored in ${storeSeconds.toFixed(1)} s, vectors in ${embedSeconds.toFixed(1)} s; ` +
      `a fresh replica loaded ${replica.view.currentTools.size} tools + ${replica.view.search.vectorCount} vectors in ${loadSeconds.toFixed(1)} s`,
  );
  const queries = generateQueries(QUERIES);
  console.log(`${QUERIES} queries, top-${K}:`);
  const lexical = await measure("lexical, in-process", queries, (query) =>
    registry.search({ query, k: K, mode: "lexical" }),
  );
  const hybrid = await measure("hybrid (BM25+vectors), in-process", queries, (query) =>
    registry.search({ query, k: K, mode: "hybrid" }),
  );
  const lexicalBus = await measure("lexical, via bus", queries, (query) =>
    bus.request(RegistrySearch, { query, k: K, mode: "lexical" }),
  );
  const hybridBus = await measure("hybrid, via bus", queries, (query) =>
    bus.request(RegistrySearch, { query, k: K, mode: "hybrid" }),
  );

  // The index alone (query vectors embedded beforehand): what the 10 ms target is about.
  const queryVectors = new Map(queries.map((query) => [query, embedder.embedOne(query)]));
  await measure("lexical, index only", queries, async (query) =>
    registry.view.search.query(query, K, undefined),
  );
  await measure("hybrid, index only", queries, async (query) =>
    registry.view.search.query(query, K, undefined, queryVectors.get(query)),
  );

  // Recall@k of the sign-bit prefilter + exact rescoring against an exact scan of the same vectors.
  const exactIndex = new VectorIndex(DIMENSIONS);
  const vectors = await embedder.embed(
    library.map((tool) =>
      embeddingText({
        name: tool.name,
        manifest: toolSource(tool.name, tool.description, tool.parameters).manifest,
      }),
    ),
  );
  for (const [index, vector] of vectors.entries()) exactIndex.add(index, vector);
  const exactNote =
    TOOLS * DIMENSIONS > EXACT_SCAN_BUDGET
      ? "sign-bit prefilter + exact rescoring"
      : "exact scan (small library)";
  // 50 is the depth each ranker hands to the fusion step.
  const recalls: number[] = [];
  for (const depth of [K, 50]) {
    let found = 0;
    let wanted = 0;
    for (const query of queries.slice(0, 300)) {
      const vector = queryVectors.get(query) as number[];
      const exact = exactIndex.search(vector, depth, undefined, { exact: true }).map((hit) => hit.id);
      const fast = new Set(exactIndex.search(vector, depth).map((hit) => hit.id));
      wanted += exact.length;
      found += exact.filter((id) => fast.has(id)).length;
    }
    console.log(
      `vector recall@${depth} vs exact scan: ${((100 * found) / wanted).toFixed(1)}% (${exactNote})`,
    );
    recalls.push(found / wanted);
  }

  const sample = await registry.search({ query: "What is the exchange rate between two currencies?", k: 3 });
  console.log(
    `sample (${sample.mode}): ${sample.hits.map((hit) => `${hit.name} ${hit.score.toFixed(4)}`).join(", ")}`,
  );
  const target = 10;
  const verdict = (timings: number[]) => (percentile(timings, 99) <= target ? "met" : "MISSED");
  console.log(
    `target p99 <= ${target} ms at ${registry.view.currentTools.size} tools (in-process, wall clock): ` +
      `lexical ${verdict(lexical)} (${percentile(lexical, 99).toFixed(2)} ms), hybrid ${verdict(hybrid)} (${percentile(hybrid, 99).toFixed(2)} ms)`,
  );
  benchTarget("lexical search p99", percentile(lexical, 99), "<=", target, " ms");
  benchTarget("hybrid search p99", percentile(hybrid, 99), "<=", target, " ms");
  // Issue 19's target is the figure a role sees: the search through the bus.
  benchTarget("lexical search p99 via bus", percentile(lexicalBus, 99), "<=", target, " ms");
  benchTarget("hybrid search p99 via bus", percentile(hybridBus, 99), "<=", target, " ms");
  benchTarget(`vector recall@${K} vs exact scan`, (recalls[0] ?? 0) * 100, ">=", 99, "%");
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((value) => value.toFixed(1))
      .join(" / ")} (other processes share the cores; the cpu columns exclude their time)`,
  );
  registry.stop();
  replica.stop();
} finally {
  await bus.drain();
  await server.dispose();
}
exitOnMiss();
