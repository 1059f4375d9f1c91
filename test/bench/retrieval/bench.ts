/**
 * Retrieval-quality benchmark (issue 10): the fixed set in test/data/retrieval (≥ 200 tools shaped
 * like a mature library, ≥ 60 benchmark-style questions with the tools each needs) loaded into a
 * registry, at the set's size and padded to 5,000 tools. Prints, per size:
 *   - retrieval-only recall@k of the question text, and of the question fused with the capabilities
 *     a plan names;
 *   - recall of the needed tools reaching the plan prompt (catalog ∪ retrieved top-k), the catalog
 *     asked with the task so its retrieved neighbourhood leads it (ADR 0106), and without it
 *     (most used only, as before) for comparison;
 *   - the same prompt recall on the set's two fixed halves (dev: odd-numbered questions, the half
 *     tuning looks at; held-out: even-numbered, the check that tuning did not fit the questions);
 * and exits non-zero when a prompt recall (question + capabilities) is under the target (95%).
 *
 *   npx tsx test/bench/retrieval/bench.ts [--k 8] [--budget 4000] [--pad 5000] [--embedder none|hashing] [--target 0.95]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createMemoryBus } from "@insitu/bus/testing";
import { HashingEmbedder, Registry } from "@insitu/registry";
import {
  loadQualityLibrary,
  loadQualitySet,
  measureRecall,
  padTools,
  splitQuestions,
} from "@insitu/registry/testing";
import { createLogger } from "@insitu/telemetry";
import { exitOnMiss, target } from "../targets.js";

const { values } = parseArgs({
  options: {
    k: { type: "string", default: "8" },
    budget: { type: "string", default: "4000" },
    pad: { type: "string", default: "5000" },
    embedder: { type: "string", default: "none" },
    target: { type: "string", default: "0.95" },
    verbose: { type: "boolean", default: false },
  },
});
const K = Number(values.k);
const BUDGET = Number(values.budget);
const TARGET = Number(values.target);
const directory = join(import.meta.dirname, "../../data/retrieval");
const { tools, questions } = loadQualitySet(directory);
const logger = createLogger({ service: "retrieval-bench", level: "error" });
const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

console.log(
  `retrieval-quality set: ${tools.length} tools, ${questions.length} questions (${questions.filter((q) => q.language !== "en").length} not in English), k=${K}, catalog budget ${BUDGET} tokens, embedder ${values.embedder}`,
);
for (const size of [tools.length, Number(values.pad)]) {
  const bus = createMemoryBus();
  const embeddings = values.embedder === "hashing" ? new HashingEmbedder() : undefined;
  const registry = await Registry.open(bus, { logger, ...(embeddings ? { embeddings } : {}) });
  const library = padTools(tools, size);
  const started = performance.now();
  const hashes = await loadQualityLibrary(bus, registry, library);
  if (embeddings) await registry.embed([...hashes.values()]);
  const loadMs = performance.now() - started;
  for (const k of [K, 20]) {
    const measure = (set: typeof questions, neighbourhood = true) =>
      measureRecall(registry, set, {
        k,
        budgetTokens: BUDGET,
        mode: embeddings ? "hybrid" : "lexical",
        neighbourhood,
      });
    const report = await measure(questions);
    console.log(
      `\n${size} tools (loaded in ${loadMs.toFixed(0)} ms), top-${k}: catalog lists ${report.catalogListed}/${report.libraryTools} (≤ ${report.catalogRelated} of them the task's neighbourhood) in ≤ ${report.catalogTokens} tokens, ${report.catalogMs.toFixed(1)} ms per catalog`,
    );
    console.log(
      `  retrieval only, question              recall@${k} ${percent(report.retrieved, report.needs)}`,
    );
    console.log(
      `  retrieval only, question+capabilities recall@${k} ${percent(report.retrievedWithCapabilities, report.needs)}`,
    );
    console.log(`  catalog only (beside the top-k)        ${percent(report.catalog, report.needs)}`);
    console.log(`  in prompt (catalog ∪ question top-${k})  ${percent(report.inPrompt, report.needs)}`);
    console.log(
      `  in prompt (catalog ∪ fused top-${k})     ${percent(report.inPromptWithCapabilities, report.needs)}   (${report.needs} needs)`,
    );
    for (const [language, figures] of Object.entries(report.byLanguage))
      console.log(
        `    ${language}: retrieval ${percent(figures.retrieved, figures.needs)}, in prompt ${percent(figures.inPromptWithCapabilities, figures.needs)} of ${figures.needs}`,
      );
    const halves = splitQuestions(questions);
    for (const [half, set] of [
      ["dev", halves.dev],
      ["held-out", halves.heldOut],
    ] as const) {
      const part = await measure(set);
      const before = await measure(set, false);
      console.log(
        `    ${half} half (${set.length} questions): in prompt ${percent(part.inPromptWithCapabilities, part.needs)} of ${part.needs}; catalog without neighbourhood ${percent(before.inPromptWithCapabilities, before.needs)}`,
      );
    }
    const before = await measure(questions, false);
    console.log(
      `  in prompt, catalog without neighbourhood (most used only): ${percent(before.inPromptWithCapabilities, before.needs)} (≤ ${before.catalogTokens} tokens)`,
    );
    if (values.verbose || k === K) console.log(`  missed: ${report.missed.join("; ") || "none"}`);
    if (k === K)
      target(
        `in-prompt recall at ${size} tools`,
        report.inPromptWithCapabilities / report.needs,
        ">=",
        TARGET,
      );
  }
  registry.stop();
}
exitOnMiss();
