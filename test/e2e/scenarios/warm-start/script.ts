import { TOOLS } from "../batch/script.js";

/**
 * FAKE MODEL SCRIPT, generated: the scripted answers of every role for the warm-start scenario
 * (test/e2e/batch-warm-start.test.ts). Unlike the batch scenario, the manager's plan depends on
 * the library the task sees: when retrieval lists the family's tool it reuses it, otherwise it
 * asks for it to be built. A task's `toolsCreated` therefore tells which library the run started
 * from. The tools' code runs for real in the Deno sandbox.
 */
export interface WarmQuestion {
  id: string;
  question: string;
  key: string;
  tool: "count_words" | "reverse_text" | "count_vowels" | "mirror_string";
  arguments: Record<string, string>;
  output: string;
  answer: string;
}

const vowelCount = (word: string) => (word.match(/[aeiou]/g) ?? []).length;

export const words = (id: string, text: string): WarmQuestion => ({
  id,
  question: `How many words are in the text '${text}'?`,
  key: `'${text}'`,
  tool: "count_words",
  arguments: { text },
  output: `"count":${text.split(" ").length}`,
  answer: String(text.split(" ").length),
});

export const reverse = (id: string, word: string): WarmQuestion => ({
  id,
  question: `What is the reversed text of the word '${word}'?`,
  key: `'${word}'`,
  tool: "reverse_text",
  arguments: { text: word },
  output: `"reversed":"${[...word].reverse().join("")}"`,
  answer: [...word].reverse().join(""),
});

/** A near-duplicate of reverse_text that shares no word with it (used by evolver-embeddings.test.ts). */
const MIRROR_STRING = {
  description: "Returns the string written backwards.",
  input: {
    type: "object",
    properties: { s: { type: "string", description: "The string." } },
    required: ["s"],
  },
  output: { type: "object", properties: { result: { type: "string" } }, required: ["result"] },
  code: 'type Input = { s: string };\ntype Output = { result: string };\n\nexport default async function run(input: Input): Promise<Output> {\n  let result = "";\n  for (const char of input.s) result = char + result;\n  return { result };\n}\n',
  tests: [
    { name: "abc", input: { s: "abc" }, expect: { equals: { result: "cba" } } },
    { name: "empty", input: { s: "" }, expect: { equals: { result: "" } } },
  ],
};
const toolOf = (name: string) => (name === "mirror_string" ? MIRROR_STRING : TOOLS[name]);

export const mirror = (id: string, word: string): WarmQuestion => ({
  id,
  question: `Write the word '${word}' backwards.`,
  key: `'${word}'`,
  tool: "mirror_string",
  arguments: { s: word },
  output: `"result":"${[...word].reverse().join("")}"`,
  answer: [...word].reverse().join(""),
});

export const vowels = (id: string, word: string): WarmQuestion => ({
  id,
  question: `How many vowels (a, e, i, o, u) are in the word '${word}'?`,
  key: `'${word}'`,
  tool: "count_vowels",
  arguments: { text: word },
  output: `"vowels":${vowelCount(word)}`,
  answer: String(vowelCount(word)),
});

/** The scenario file (the scripted model's JSON format) for every role, over all the questions asked. */
export function warmStartScript(questions: WarmQuestion[]): unknown {
  const plan = questions.flatMap((item) => {
    const tool = toolOf(item.tool);
    if (!tool) throw new Error(`no tool ${item.tool}`);
    return [
      {
        note: `${item.id}: retrieval lists ${item.tool}: reuse it`,
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
        note: `${item.id}: the library has no ${item.tool}: request it`,
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
      },
    ];
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
  const developer = ["count_words", "reverse_text", "count_vowels", "mirror_string"].map((name) => {
    const tool = toolOf(name);
    if (!tool) throw new Error(`no tool ${name}`);
    return {
      note: `builds ${name}`,
      when: { anyMessageContains: `\`${name}\`` },
      reply: { json: { code: tool.code, tests: tool.tests } },
    };
  });
  return {
    $comment: "FAKE MODEL SCRIPT generated by test/e2e/scenarios/warm-start/script.ts",
    description: "batch warm starts: zero, current, a snapshot id, an exported folder",
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
      evolver: {
        rules: [
          {
            note: "an embedding-only pre-cluster reached the model: keep both (the test looks for this verdict)",
            when: { systemContains: "Evolver", anyMessageContains: "mirror_string" },
            reply: {
              json: {
                groups: [
                  {
                    members: ["mirror_string", "reverse_text"],
                    merge: false,
                    reason: "seen together through embeddings",
                  },
                ],
              },
            },
          },
          {
            note: "no two tools of this scenario are one capability",
            when: { systemContains: "Evolver" },
            reply: { json: { groups: [] } },
          },
        ],
      },
    },
  };
}
