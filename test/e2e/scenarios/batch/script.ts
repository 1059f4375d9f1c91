/**
 * FAKE MODEL SCRIPT, generated: the scripted answers of every role for the batch scenario
 * (test/e2e/batch.test.ts) — 3 task families × 8 phrasings. The tools' code runs for real in the
 * Deno sandbox; the script only decides what each role says, keyed on each question's unique text.
 */
export interface ScenarioQuestion {
  id: string;
  question: string;
  /** Unique text of the question the rules key on. */
  key: string;
  family: "vowels" | "words" | "reverse";
  /** Tool the task calls: its family's tool, or the near-duplicate `tally_vowels`. */
  tool: string;
  /** Arguments of that call. */
  arguments: Record<string, string>;
  /** The output JSON text the sandbox-run tool gives (what the executor's report rule waits for). */
  output: string;
  answer: string;
  /** True when the plan asks for a new tool (the batch's library has none), false to reuse. */
  creates: boolean;
}

const VOWEL_WORDS = [
  "encyclopedia",
  "onomatopoeia",
  "banana",
  "education",
  "sequoia",
  "aubergine",
  "rhubarb",
  "archipelago",
];
const WORD_TEXTS = [
  "the quick brown fox",
  "to be or not to be",
  "hello there world",
  "alpha beta gamma delta epsilon",
  "one small step",
  "all that glitters is not gold",
  "carpe diem",
  "veni vidi vici again",
];
const REVERSE_WORDS = ["stressed", "drawer", "lived", "gateman", "parts", "deliver", "diaper", "spoons"];

const vowelCount = (word: string) => (word.match(/[aeiou]/g) ?? []).length;

/** The 24 questions in file order: batch 1 (all new to an empty library), then batches 2 and 3. */
export function scenarioQuestions(): ScenarioQuestion[] {
  const vowels = VOWEL_WORDS.map((word, index): ScenarioQuestion => {
    const tally = index === 1; // a second task of batch 1 writes a near-duplicate under another name
    return {
      id: `v${index + 1}`,
      question: `How many vowels (a, e, i, o, u) are in the word '${word}'?`,
      key: `'${word}'`,
      family: "vowels",
      tool: tally ? "tally_vowels" : "count_vowels",
      arguments: tally ? { word } : { text: word },
      output: `"vowels":${vowelCount(word)}`,
      answer: String(vowelCount(word)),
      creates: false,
    };
  });
  const words = WORD_TEXTS.map(
    (text, index): ScenarioQuestion => ({
      id: `w${index + 1}`,
      question: `How many words are in the text '${text}'?`,
      key: `'${text}'`,
      family: "words",
      tool: "count_words",
      arguments: { text },
      output: `"count":${text.split(" ").length}`,
      answer: String(text.split(" ").length),
      creates: false,
    }),
  );
  const reverse = REVERSE_WORDS.map(
    (word, index): ScenarioQuestion => ({
      id: `r${index + 1}`,
      question: `What is the reversed text of the word '${word}'?`,
      key: `'${word}'`,
      family: "reverse",
      tool: "reverse_text",
      arguments: { text: word },
      output: `"reversed":"${[...word].reverse().join("")}"`,
      answer: [...word].reverse().join(""),
      creates: false,
    }),
  );
  const [v, w, r] = [vowels, words, reverse];
  const order = [
    // batch 1
    v[0],
    v[1],
    w[0],
    r[0],
    v[2],
    w[1],
    r[1],
    w[2],
    // batch 2
    v[3],
    w[3],
    r[2],
    v[4],
    w[4],
    r[3],
    v[5],
    r[4],
    // batch 3
    w[5],
    r[5],
    v[6],
    w[6],
    r[6],
    v[7],
    w[7],
    r[7],
  ] as ScenarioQuestion[];
  return order.map((item, index) => ({ ...item, creates: index < 8 }));
}

const textSchema = (field: string, description: string) => ({
  type: "object",
  properties: { [field]: { type: "string", description } },
  required: [field],
});

/** The scenario's tools (code, tests, schemas), shared with the warm-start scenario and test/bench/batch. */
export const TOOLS: Record<
  string,
  {
    description: string;
    input: Record<string, unknown>;
    output: Record<string, unknown>;
    code: string;
    tests: unknown[];
  }
> = {
  count_vowels: {
    description: "Counts the vowels (a, e, i, o, u; case-insensitive) in a text and returns the count.",
    input: textSchema("text", "The text to scan."),
    output: { type: "object", properties: { vowels: { type: "integer" } }, required: ["vowels"] },
    code: "type Input = { text: string };\ntype Output = { vowels: number };\n\nexport default async function run(input: Input): Promise<Output> {\n  const matches = input.text.toLowerCase().match(/[aeiou]/g);\n  return { vowels: matches === null ? 0 : matches.length };\n}\n",
    tests: [
      { name: "banana", input: { text: "banana" }, expect: { equals: { vowels: 3 } } },
      { name: "upper case", input: { text: "AEIOU xyz" }, expect: { equals: { vowels: 5 } } },
    ],
  },
  tally_vowels: {
    description: "Tallies the vowels (a, e, i, o, u) of a word and returns the count.",
    input: textSchema("word", "The word."),
    output: { type: "object", properties: { vowels: { type: "integer" } }, required: ["vowels"] },
    code: 'type Input = { word: string };\ntype Output = { vowels: number };\n\nexport default async function run(input: Input): Promise<Output> {\n  let vowels = 0;\n  for (const char of input.word.toLowerCase()) if ("aeiou".includes(char)) vowels++;\n  return { vowels };\n}\n',
    tests: [
      { name: "idea", input: { word: "idea" }, expect: { equals: { vowels: 3 } } },
      { name: "none", input: { word: "rhythm" }, expect: { equals: { vowels: 0 } } },
    ],
  },
  count_words: {
    description: "Counts the whitespace-separated words in a text and returns the count.",
    input: textSchema("text", "The text."),
    output: { type: "object", properties: { count: { type: "integer" } }, required: ["count"] },
    code: "type Input = { text: string };\ntype Output = { count: number };\n\nexport default async function run(input: Input): Promise<Output> {\n  return { count: input.text.split(/\\s+/).filter((word) => word.length > 0).length };\n}\n",
    tests: [
      { name: "two", input: { text: "a b" }, expect: { equals: { count: 2 } } },
      { name: "blank", input: { text: "  " }, expect: { equals: { count: 0 } } },
    ],
  },
  reverse_text: {
    description: "Reverses a text character by character and returns the reversed text.",
    input: textSchema("text", "The text to reverse."),
    output: { type: "object", properties: { reversed: { type: "string" } }, required: ["reversed"] },
    code: 'type Input = { text: string };\ntype Output = { reversed: string };\n\nexport default async function run(input: Input): Promise<Output> {\n  return { reversed: Array.from(input.text).reverse().join("") };\n}\n',
    tests: [
      { name: "abc", input: { text: "abc" }, expect: { equals: { reversed: "cba" } } },
      { name: "empty", input: { text: "" }, expect: { equals: { reversed: "" } } },
    ],
  },
};

const MERGED_VOWELS_CODE =
  'type Input = { text: string };\ntype Output = { vowels: number };\n\n// The merge of count_vowels and tally_vowels: one algorithm, one return shape.\nexport default async function run(input: Input): Promise<Output> {\n  let vowels = 0;\n  for (const char of input.text.toLowerCase()) if ("aeiou".includes(char)) vowels++;\n  return { vowels };\n}\n';

/** The scenario file (the scripted model's JSON format) for every role. */
export function scenarioScript(): unknown {
  const questions = scenarioQuestions();
  const plan = questions.map((item) => {
    const tool = TOOLS[item.tool];
    if (!tool) throw new Error(`no tool ${item.tool}`);
    return item.creates
      ? {
          note: `${item.id}: the batch's library has no ${item.tool}: request it`,
          when: { lastMessageContains: "Tool Request Protocol", anyMessageContains: item.key },
          reply: {
            json: {
              required_tool_names: [],
              tool_usage_guidance: `Call ${item.tool} and report what it returns.`,
              tool_requests: [
                {
                  name: item.tool,
                  description: tool.description,
                  input_schema: tool.input,
                  output_schema: tool.output,
                },
              ],
            },
          },
        }
      : {
          note: `${item.id}: retrieval lists ${item.tool}: reuse it`,
          when: { lastMessageContains: `. ${item.tool}`, anyMessageContains: item.key },
          reply: {
            json: {
              required_tool_names: [item.tool],
              tool_usage_guidance: `Call ${item.tool} and report what it returns.`,
              tool_requests: [],
            },
          },
        };
  });
  const executor = questions.flatMap((item) => [
    {
      note: `${item.id}: call`,
      when: { lastMessageContains: "Work on it now", anyMessageContains: item.key },
      reply: { toolCalls: [{ name: item.tool, arguments: item.arguments }] },
    },
    {
      note: `${item.id}: report after the sandbox answered`,
      when: { lastMessageContains: item.output, anyMessageContains: item.key },
      reply: {
        text: `## Reasoning & Plan\nCall ${item.tool}.\n\n## Key Findings & Evidence\n- ${item.tool} returned ${item.output}\n\n## Final Conclusion\n${item.answer}`,
      },
    },
  ]);
  const integrator = questions.map((item) => ({
    when: { anyMessageContains: item.key },
    reply: {
      json: { final_answer: item.answer, reasoning_summary: `${item.tool} computed it in the sandbox.` },
    },
  }));
  const developer = Object.entries(TOOLS).map(([name, tool]) => ({
    note: `builds ${name}`,
    when: { anyMessageContains: `\`${name}\`` },
    reply: { json: { code: tool.code, tests: tool.tests } },
  }));
  return {
    $comment: "FAKE MODEL SCRIPT generated by test/e2e/scenarios/batch/script.ts",
    description:
      "batch runs: 3 families x 8 phrasings, 3 batches, a near-duplicate merged at the first barrier",
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

/** The evolver's answers: count_vowels and tally_vowels are one capability (merged); nothing else is. */
export function evolverRules(): unknown[] {
  const vowels = TOOLS.count_vowels;
  return [
    {
      note: "count_vowels and tally_vowels are one capability; nothing else is",
      when: { systemContains: "Evolver" },
      reply: {
        json: {
          groups: [
            {
              members: ["count_vowels", "tally_vowels"],
              merge: true,
              reason: "Both count a, e, i, o, u in a string, case-insensitively, and return {vowels}.",
              name: "count_vowels",
              description: vowels?.description,
              input_schema: vowels?.input,
              output_schema: vowels?.output,
              mappings: [
                { member: "count_vowels", rename: {}, constants: {} },
                { member: "tally_vowels", rename: { word: "text" }, constants: {} },
              ],
            },
            {
              members: ["count_vowels", "count_words"],
              merge: false,
              reason: "Counting vowels and counting words are different algorithms.",
            },
          ],
        },
      },
    },
    {
      note: "the merged vowel counter",
      when: { systemContains: "Tool Developer", anyMessageContains: "tally_vowels" },
      reply: {
        json: {
          code: MERGED_VOWELS_CODE,
          tests: [
            { name: "mixed case", input: { text: "Queue" }, expect: { equals: { vowels: 4 } } },
            { name: "none", input: { text: "xyz" }, expect: { equals: { vowels: 0 } } },
          ],
        },
      },
    },
  ];
}
