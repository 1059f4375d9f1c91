/**
 * LLM layer overhead benchmark: per-call latency through `@insitu/llm` beside the raw client
 * doing the same call in the same run, against the same local stand-in (no model is reachable
 * here, so this measures only what our layer adds: request mapping, retrying fetch, response
 * reading, accounting and metrics). Also measures JSON extraction from messy model text.
 *
 *   npx tsx test/bench/llm/bench.ts [--calls 2000]
 */
import { parseArgs } from "node:util";
import { GoogleGenAI } from "@google/genai";
import { Accountant, extractJson, GeminiModel, OpenAiCompatibleModel } from "@insitu/llm";
import { startStandInServer } from "@insitu/llm/testing";
import { Registry } from "prom-client";

const { values } = parseArgs({ options: { calls: { type: "string", default: "2000" } } });
const CALLS = Number(values.calls);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(
  label: string,
  run: () => Promise<unknown>,
): Promise<{ label: string; p50: number; p99: number }> {
  for (let index = 0; index < 100; index++) await run();
  const samples: number[] = [];
  for (let index = 0; index < CALLS; index++) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { label, p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

const geminiBody = {
  candidates: [{ content: { role: "model", parts: [{ text: "The answer is 42." }] }, finishReason: "STOP" }],
  usageMetadata: { promptTokenCount: 120, candidatesTokenCount: 6 },
};
const openAiBody = {
  model: "m",
  choices: [{ message: { role: "assistant", content: "The answer is 42." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 120, completion_tokens: 6 },
};
const server = await startStandInServer((request) => ({
  json: request.path.includes("chat/completions") ? openAiBody : geminiBody,
}));
// Keep the recorded-request list from growing through the run.
const keepRequestsSmall = setInterval(() => server.requests.splice(0), 50);

const messages = [{ role: "user" as const, content: "What is six times seven?" }];
try {
  const rawSdk = new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: server.url } });
  const gemini = new GeminiModel({ apiKey: "k", model: "gemini-3-pro-preview", baseUrl: server.url });
  const accountant = new Accountant({ registry: new Registry() });
  const accounted = accountant.wrap(gemini, { role: "manager" });
  const openAi = new OpenAiCompatibleModel({ baseUrl: `${server.url}/v1`, model: "m" });

  const results = [
    await measure("raw @google/genai generateContent", () =>
      rawSdk.models.generateContent({ model: "gemini-3-pro-preview", contents: "What is six times seven?" }),
    ),
    await measure("GeminiModel.generate", () => gemini.generate({ messages })),
    await measure("GeminiModel + accounting/metrics", () =>
      accounted.generate({ messages, taskId: "bench" }),
    ),
    await measure("raw fetch chat/completions", async () => {
      const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "m",
          messages: [{ role: "user", content: "What is six times seven?" }],
        }),
      });
      return response.json();
    }),
    await measure("OpenAiCompatibleModel.generate", () => openAi.generate({ messages })),
  ];
  console.log(`calls per case: ${CALLS} (sequential, local stand-in on 127.0.0.1)`);
  for (const result of results) {
    console.log(
      `${result.label.padEnd(36)} p50 ${result.p50.toFixed(3)} ms   p99 ${result.p99.toFixed(3)} ms`,
    );
  }
  const [rawGemini, ourGemini, accountedGemini, rawOpenAi, ourOpenAi] = results;
  if (rawGemini && ourGemini && accountedGemini && rawOpenAi && ourOpenAi) {
    console.log(
      `gemini overhead at p50: ×${(ourGemini.p50 / rawGemini.p50).toFixed(3)} (with accounting ×${(accountedGemini.p50 / rawGemini.p50).toFixed(3)})`,
    );
    console.log(`openai-compatible overhead at p50: ×${(ourOpenAi.p50 / rawOpenAi.p50).toFixed(3)}`);
  }

  const messy = `Sure! Here is the JSON you asked for:\n\`\`\`json\n${JSON.stringify({
    tools: Array.from({ length: 50 }, (_, index) => ({
      name: `tool_${index}`,
      args: { a: "x}y", b: [1, 2, 3] },
    })),
  })}\n\`\`\`\nLet me know if you need anything else.`;
  const extractions = 20_000;
  const started = performance.now();
  for (let index = 0; index < extractions; index++) extractJson(messy);
  const elapsed = performance.now() - started;
  console.log(
    `extractJson on a fenced ${messy.length}-byte answer: ${((elapsed / extractions) * 1000).toFixed(1)} µs per call`,
  );
} finally {
  clearInterval(keepRequestsSmall);
  await server.close();
}
