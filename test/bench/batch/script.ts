/**
 * FAKE MODEL SCRIPT, generated, for test/bench/batch: N questions of the batch scenario's three
 * families (count vowels, count words, reverse a word — test/e2e/scenarios/batch/script.ts), each
 * with its own seeded random text. Unlike the e2e scenario, the script *reacts to the library*: a
 * task whose catalog already lists its family's tool reuses it, otherwise it asks for the tool; so
 * what a task creates depends on what it can see (batch isolation vs --share-within-batch, batch
 * size). Every 8th vowel question prefers a near-duplicate name (`tally_vowels`) when it has to
 * build one, which the evolver merges into `count_vowels` at the barrier (same evolver answers as
 * the e2e scenario). The tools' code runs for real in the Deno sandbox.
 */
import { TOOLS, evolverRules } from "../../e2e/scenarios/batch/script.js";

export interface BenchQuestion {
  id: string;
  question: string;
  answer: string;
  family: "vowels" | "words" | "reverse";
  /** Unique text of the question the rules key on. */
  key: string;
  /** The family's tool, reused when listed. */
  tool: "count_vowels" | "count_words" | "reverse_text";
  /** The name asked for when the tool is not listed (tally_vowels for the near-duplicate askers). */
  builds: string;
  /** The output JSON text the tool gives (what the executor's report rule waits for). */
  output: string;
}

/** mulberry32: a small seeded PRNG, so the question set is the same in every run. */
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

/** `count` questions cycling vowels, words, reverse; texts drawn from `seed`, all distinct. */
export function benchQuestions(count: number, seed = 1): BenchQuestion[] {
  const next = random(seed);
  const seen = new Set<string>();
  const word = (): string => {
    for (;;) {
      const length = 5 + Math.floor(next() * 7);
      const text = Array.from({ length }, () => "abcdefghijklmnopqrstuvwxyz"[Math.floor(next() * 26)]).join(
        "",
      );
      if (!seen.has(text)) {
        seen.add(text);
        return text;
      }
    }
  };
  const families = ["vowels", "words", "reverse"] as const;
  let vowelIndex = 0;
  return Array.from({ length: count }, (_, index): BenchQuestion => {
    const family = families[index % 3] as BenchQuestion["family"];
    const id = `q${String(index + 1).padStart(3, "0")}`;
    if (family === "vowels") {
      const text = word();
      const vowels = (text.match(/[aeiou]/g) ?? []).length;
      const tally = vowelIndex++ % 8 === 1;
      return {
        id,
        question: `How many vowels (a, e, i, o, u) are in the word '${text}'?`,
        answer: String(vowels),
        family,
        key: `'${text}'`,
        tool: "count_vowels",
        builds: tally ? "tally_vowels" : "count_vowels",
        output: `"vowels":${vowels}`,
      };
    }
    if (family === "words") {
      const words = 2 + Math.floor(next() * 5);
      const text = Array.from({ length: words }, word).join(" ");
      return {
        id,
        question: `How many words are in the text '${text}'?`,
        answer: String(words),
        family,
        key: `'${text}'`,
        tool: "count_words",
        builds: "count_words",
        output: `"count":${words}`,
      };
    }
    const text = word();
    const reversed = [...text].reverse().join("");
    return {
      id,
      question: `What is the reversed text of the word '${text}'?`,
      answer: reversed,
      family,
      key: `'${text}'`,
      tool: "reverse_text",
      builds: "reverse_text",
      output: `"reversed":"${reversed}"`,
    };
  });
}

/** The input of a tool call: tally_vowels takes `word`, the others `text`. */
function callArguments(tool: string, item: BenchQuestion): Record<string, string> {
  const text = item.key.slice(1, -1);
  return tool === "tally_vowels" ? { word: text } : { text };
}

/** The scenario file (the scripted model's JSON format) for every role. */
export function benchScript(questions: BenchQuestion[]): unknown {
  const plan = questions.flatMap((item) => {
    const wanted = TOOLS[item.builds];
    if (!wanted) throw new Error(`no tool ${item.builds}`);
    return [
      {
        note: `${item.id}: the catalog lists ${item.tool}: reuse it`,
        when: { lastMessageContains: `. ${item.tool}`, anyMessageContains: item.key },
        reply: {
          json: {
            required_tool_names: [item.tool],
            tool_usage_guidance: `Call ${item.tool} and report what it returns.`,
            tool_requests: [],
          },
        },
      },
      {
        note: `${item.id}: no ${item.tool} in sight: ask for ${item.builds}`,
        when: { lastMessageContains: "Tool Request Protocol", anyMessageContains: item.key },
        reply: {
          json: {
            required_tool_names: [],
            tool_usage_guidance: `Call ${item.builds} and report what it returns.`,
            tool_requests: [
              {
                name: item.builds,
                description: wanted.description,
                input_schema: wanted.input,
                output_schema: wanted.output,
              },
            ],
          },
        },
      },
    ];
  });
  const executor = questions.flatMap((item) => {
    const calls = item.builds === item.tool ? [item.tool] : [item.builds, item.tool];
    return [
      // The tool the task was given: the near-duplicate when it built one, else the family's.
      ...calls.map((tool) => ({
        note: `${item.id}: call ${tool}`,
        when: { lastMessageContains: "Work on it now", anyMessageContains: item.key, hasTool: tool },
        reply: { toolCalls: [{ name: tool, arguments: callArguments(tool, item) }] },
      })),
      {
        note: `${item.id}: report after the sandbox answered`,
        when: { lastMessageContains: item.output, anyMessageContains: item.key },
        reply: {
          text: `## Reasoning & Plan\nCall the tool.\n\n## Key Findings & Evidence\n- it returned ${item.output}\n\n## Final Conclusion\n${item.answer}`,
        },
      },
    ];
  });
  const integrator = questions.map((item) => ({
    when: { anyMessageContains: item.key },
    reply: { json: { final_answer: item.answer, reasoning_summary: "A tool computed it in the sandbox." } },
  }));
  const developer = Object.entries(TOOLS).map(([name, tool]) => ({
    note: `builds ${name}`,
    when: { anyMessageContains: `\`${name}\`` },
    reply: { json: { code: tool.code, tests: tool.tests } },
  }));
  return {
    $comment: "FAKE MODEL SCRIPT generated by test/bench/batch/script.ts",
    description: `batch bench: ${questions.length} questions of 3 families; tasks reuse what their catalog lists`,
    roles: {
      manager: {
        rules: [
          {
            when: { lastMessageContains: "judging one Executor round" },
            reply: { json: { status: "FINISH", reason: "The report concludes with tool evidence." } },
          },
          ...plan,
        ],
      },
      "tool-developer": { rules: developer },
      executor: { rules: executor },
      integrator: { rules: integrator },
      evolver: { rules: evolverRules() },
    },
  };
}
