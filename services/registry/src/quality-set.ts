import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Bus } from "@insitu/bus";
import type { ToolManifest } from "@insitu/tool-kit";
import { computeToolHash } from "@insitu/tool-kit";
import { Keys, type StatsDocument, type VersionDocument } from "./documents.js";
import type { Registry } from "./registry.js";

/**
 * The retrieval-quality set (test/data/retrieval): tools shaped like a mature self-written library
 * (one `tools-*.tsv` line each: name, description, comma-separated parameters, all-time calls) and
 * benchmark-style questions (`questions.jsonl`: question, the tools it needs, and the capabilities
 * a plan would name for them). Used by the quality test and test/bench/retrieval.
 */
export interface QualityTool {
  name: string;
  description: string;
  parameters: string[];
  calls: number;
}

export interface QualityQuestion {
  id: string;
  question: string;
  needs: string[];
  capabilities: string[];
  language: string;
}

export function loadQualitySet(directory: string): { tools: QualityTool[]; questions: QualityQuestion[] } {
  const tools: QualityTool[] = [];
  for (const file of readdirSync(directory)
    .filter((name) => /^tools-.*\.tsv$/.test(name))
    .sort()) {
    for (const line of readFileSync(join(directory, file), "utf8").split("\n")) {
      if (!line.trim()) continue;
      const [name, description, parameters, calls] = line.split("\t");
      if (!name || !description || parameters === undefined || calls === undefined)
        throw new Error(`${file}: malformed line ${line.slice(0, 60)}`);
      tools.push({
        name,
        description,
        parameters: parameters.split(",").filter(Boolean),
        calls: Number(calls),
      });
    }
  }
  const questions = readFileSync(join(directory, "questions.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as QualityQuestion);
  return { tools, questions };
}

/** A small deterministic PRNG (mulberry32) so padding is the same on every run. */
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

const DOMAINS =
  "invoice shipment satellite tariff vaccine warehouse payroll ticket sensor contract patient crop vessel permit turbine lease recipe course parcel fleet claim device voter grant molecule loan audit route league station album".split(
    " ",
  );

/**
 * Pads the set's library to `total` tools with generated ones that compete for the same words:
 * verbs and targets recombined from the real names, descriptions built from the real
 * descriptions' vocabulary plus a domain word, and calls drawn from the real tools' distribution
 * (so the padding is as used as the real library and takes catalog lines from it).
 */
export function padTools(tools: QualityTool[], total: number, seed = 7): QualityTool[] {
  const rand = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const names = new Set(tools.map((tool) => tool.name));
  const verbs = [...new Set(tools.map((tool) => tool.name.split("_")[0] as string))];
  const targets = [...new Set(tools.flatMap((tool) => tool.name.split("_").slice(1)))];
  const words = [
    ...new Set(
      tools.flatMap((tool) =>
        tool.description
          .toLowerCase()
          .split(/[^a-z]+/)
          .filter((word) => word.length > 3),
      ),
    ),
  ];
  const parameters = [...new Set(tools.flatMap((tool) => tool.parameters))];
  const padded = [...tools];
  while (padded.length < total) {
    const domain = pick(DOMAINS);
    const name = `${pick(verbs)}_${domain}_${pick(targets)}`;
    if (names.has(name)) continue;
    names.add(name);
    const phrase = Array.from({ length: 8 + Math.floor(rand() * 8) }, () => pick(words)).join(" ");
    padded.push({
      name,
      description: `${name.split("_")[0]}s ${domain} ${phrase}. Returns ${pick(words)} and ${pick(words)} for each ${domain}.`,
      parameters: Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(parameters)),
      calls: (pick(tools).calls * (0.5 + rand())) | 0,
    });
  }
  return padded;
}

function manifestOf(tool: QualityTool): ToolManifest {
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: {
      type: "object",
      properties: Object.fromEntries(tool.parameters.map((parameter) => [parameter, { type: "string" }])),
      required: tool.parameters.slice(0, 1),
      additionalProperties: false,
    },
    outputSchema: { type: "object", properties: { error: { type: "string" } } },
    permissions: { network: [], secrets: [] },
  };
}

/**
 * Loads tools into a registry as ONE imported snapshot and writes each tool's usage record (its
 * all-time calls) to the registry bucket, as a library that has served that many calls holds it.
 * Returns name → version hash.
 */
export async function loadQualityLibrary(
  bus: Bus,
  registry: Registry,
  tools: QualityTool[],
): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const kv = await bus.kv("registry");
  const time = new Date().toISOString();
  for (const tool of tools) {
    const manifest = manifestOf(tool);
    const code = `export const manifest = ${JSON.stringify(manifest)};\nexport default async function run() { return {}; }\n`;
    const hash = computeToolHash({ manifest, code, tests: [] });
    const document: VersionDocument = {
      hash,
      name: tool.name,
      manifest,
      origin: "imported",
      parents: [],
      createdAt: time,
      evidence: [],
      code,
      tests: [],
    };
    await registry.storeVersion(document);
    hashes.set(tool.name, hash);
    if (tool.calls > 0) {
      const stats: StatsDocument = {
        hash,
        name: tool.name,
        calls: tool.calls,
        byOutcome: { success: tool.calls },
        successes: tool.calls,
        reuseCalls: tool.calls,
        latencySumMs: 0,
        tasks: [],
        recentCallIds: [],
      };
      await kv.put(Keys.stats(hash), stats);
    }
  }
  await registry.commit({
    kind: "import",
    reason: "retrieval-quality set",
    change: async (current) => {
      for (const [name, hash] of hashes) current.set(name, hash);
      return [...hashes].map(([name, hash]) => ({ op: "add" as const, name, hash }));
    },
  });
  const used = tools.filter((tool) => tool.calls > 0).map((tool) => hashes.get(tool.name) as string);
  await registry.view.until(() => used.every((hash) => registry.view.stats.has(hash)));
  await registry.view.settled();
  return hashes;
}

/**
 * The question set split in two fixed halves: `dev` (odd-numbered questions) for tuning and
 * `heldOut` (even-numbered) for checking that a tuning did not just fit the questions it was tuned
 * on. By position, so the split does not move when a question's text is edited.
 */
export function splitQuestions(questions: QualityQuestion[]): {
  dev: QualityQuestion[];
  heldOut: QualityQuestion[];
} {
  return {
    dev: questions.filter((_, index) => index % 2 === 0),
    heldOut: questions.filter((_, index) => index % 2 === 1),
  };
}

/** Recall figures of one configuration over the question set. */
export interface RecallReport {
  needs: number;
  /** Needs found by retrieval alone (question text), top-k. */
  retrieved: number;
  /** Needs found by retrieval over the question and the plan's capabilities (fused), top-k. */
  retrievedWithCapabilities: number;
  /** Needs in the catalog built for the question and its capabilities (neighbourhood included). */
  catalog: number;
  /** Needs in the plan prompt: catalog (for the question) ∪ retrieved (question). */
  inPrompt: number;
  /** Needs in the plan prompt: catalog (for question + capabilities) ∪ retrieved (question + capabilities). */
  inPromptWithCapabilities: number;
  /** Tools the catalog listed (the largest over the questions). */
  catalogListed: number;
  /** Estimated tokens of the catalog block (the largest over the questions). */
  catalogTokens: number;
  /** Catalog lines given to the task's neighbourhood (the largest over the questions). */
  catalogRelated: number;
  libraryTools: number;
  /** Mean wall time of one registry.catalog call, in milliseconds (in process, no bus). */
  catalogMs: number;
  /** Needs missed by catalog ∪ retrieved (question + capabilities), as question id: tool. */
  missed: string[];
  /** The same figures for the questions of one language, by language. */
  byLanguage: Record<string, { needs: number; retrieved: number; inPromptWithCapabilities: number }>;
}

/**
 * Recall over a question set, measured as the Manager's plan prompt is assembled: the detailed
 * top-k of registry.search, and registry.catalog asked with the same question (and capabilities)
 * and told to leave out what the top-k already shows. `neighbourhood: false` asks for the catalog
 * without the task (most used only), as before ADR 0106.
 */
export async function measureRecall(
  registry: Registry,
  questions: QualityQuestion[],
  options: {
    k: number;
    budgetTokens: number;
    mode?: "lexical" | "auto" | "hybrid";
    neighbourhood?: boolean;
  },
): Promise<RecallReport> {
  const neighbourhood = options.neighbourhood ?? true;
  const report: RecallReport = {
    needs: 0,
    retrieved: 0,
    retrievedWithCapabilities: 0,
    catalog: 0,
    inPrompt: 0,
    inPromptWithCapabilities: 0,
    catalogListed: 0,
    catalogTokens: 0,
    catalogRelated: 0,
    libraryTools: 0,
    catalogMs: 0,
    missed: [],
    byLanguage: {},
  };
  const mode = options.mode ?? "auto";
  let catalogCalls = 0;
  let catalogMs = 0;
  const catalogFor = async (query: string, capabilities: string[], exclude: string[]) => {
    const started = performance.now();
    const catalog = await registry.catalog({
      budgetTokens: options.budgetTokens,
      ...(neighbourhood ? { query, ...(capabilities.length > 0 ? { capabilities } : {}), exclude } : {}),
    });
    catalogMs += performance.now() - started;
    catalogCalls++;
    report.catalogMs = catalogMs / catalogCalls;
    report.catalogListed = Math.max(report.catalogListed, catalog.entries.length);
    report.catalogTokens = Math.max(report.catalogTokens, catalog.tokens);
    report.catalogRelated = Math.max(report.catalogRelated, catalog.related ?? 0);
    report.libraryTools = catalog.total;
    return new Set(catalog.entries.map((entry) => entry.name));
  };
  for (const question of questions) {
    const plain = await registry.search({ query: question.question, k: options.k, mode });
    const fused = await registry.search({
      query: question.question,
      k: options.k,
      mode,
      capabilities: question.capabilities,
    });
    const plainNames = new Set(plain.hits.map((hit) => hit.name));
    const fusedNames = new Set(fused.hits.map((hit) => hit.name));
    const plainCatalog = await catalogFor(question.question, [], [...plainNames]);
    const listed = await catalogFor(question.question, question.capabilities, [...fusedNames]);
    const language = report.byLanguage[question.language] ?? {
      needs: 0,
      retrieved: 0,
      inPromptWithCapabilities: 0,
    };
    report.byLanguage[question.language] = language;
    for (const need of question.needs) {
      report.needs++;
      language.needs++;
      const inCatalog = listed.has(need);
      if (plainNames.has(need)) {
        report.retrieved++;
        language.retrieved++;
      }
      if (fusedNames.has(need)) report.retrievedWithCapabilities++;
      if (inCatalog) report.catalog++;
      if (plainCatalog.has(need) || plainNames.has(need)) report.inPrompt++;
      if (inCatalog || fusedNames.has(need)) {
        report.inPromptWithCapabilities++;
        language.inPromptWithCapabilities++;
      } else report.missed.push(`${question.id}: ${need}`);
    }
  }
  return report;
}
