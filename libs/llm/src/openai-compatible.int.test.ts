import { InsituError } from "@insitu/errors";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { LlmErrorCode } from "./errors.js";
import { generateObject } from "./generate-object.js";
import { OpenAiCompatibleEmbeddingModel, OpenAiCompatibleModel } from "./openai-compatible.js";
import {
  type StandInReply,
  type StandInRequest,
  type StandInServer,
  startStandInServer,
} from "./stand-in-server.js";
import { type StreamPart, toModelMessage } from "./types.js";

// The real fetch client against a local stand-in speaking OpenAI chat completions
// (POST {base}/chat/completions, SSE streaming, POST {base}/embeddings).

const fastRetry = { initialDelayMs: 5, maxDelayMs: 20, jitter: 0, maxAttempts: 3 };
let server: StandInServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function openai(
  handler: (request: StandInRequest, index: number) => StandInReply | Promise<StandInReply>,
  options: { retry?: object; apiKey?: string } = {},
) {
  server = await startStandInServer(handler);
  return new OpenAiCompatibleModel({
    baseUrl: `${server.url}/v1`,
    model: "qwen3-32b",
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    retry: { ...fastRetry, ...options.retry },
  });
}

function completion(message: Record<string, unknown>, finish = "stop", usage: Record<string, unknown> = {}) {
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    model: "qwen3-32b-served",
    choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finish }],
    usage: {
      prompt_tokens: 40,
      completion_tokens: 10,
      total_tokens: 50,
      prompt_tokens_details: { cached_tokens: 32 },
      ...usage,
    },
  };
}

async function expectError(promise: Promise<unknown>, code: string): Promise<InsituError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InsituError);
  expect((error as InsituError).code).toBe(code);
  return error as InsituError;
}

const tools = [
  {
    name: "add",
    description: "Adds two numbers",
    parameters: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    },
  },
];

describe("OpenAI-compatible chat completions against a local stand-in", () => {
  it("sends system, user, bearer key and sampling settings; reads text and usage with cached tokens", async () => {
    const model = await openai(() => ({ json: completion({ content: "Paris." }) }), { apiKey: "sk-test" });
    const result = await model.generate({
      system: "Be brief.",
      messages: [{ role: "user", content: "Capital of France?" }],
      temperature: 0,
      maxOutputTokens: 64,
    });
    expect(result).toMatchObject({
      text: "Paris.",
      finishReason: "stop",
      model: "qwen3-32b-served",
      provider: "openai-compatible",
      usage: { inputTokens: 40, outputTokens: 10, cachedTokens: 32 },
    });
    const request = server?.requests[0];
    expect(request?.path).toBe("/v1/chat/completions");
    expect(request?.headers.authorization).toBe("Bearer sk-test");
    expect(request?.body).toEqual({
      model: "qwen3-32b",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Capital of France?" },
      ],
      temperature: 0,
      max_tokens: 64,
    });
  });

  it("declares tools, forces one with tool_choice, and round-trips tool calls and results", async () => {
    const model = await openai((_request, index) =>
      index === 0
        ? {
            json: completion(
              {
                content: null,
                tool_calls: [
                  { id: "call_9", type: "function", function: { name: "add", arguments: '{"a":2,"b":3}' } },
                ],
              },
              "tool_calls",
            ),
          }
        : { json: completion({ content: "5" }) },
    );
    const first = await model.generate({
      messages: [{ role: "user", content: "2+3?" }],
      tools,
      toolChoice: { name: "add" },
    });
    expect(first.finishReason).toBe("tool-calls");
    expect(first.toolCalls).toEqual([{ id: "call_9", name: "add", arguments: { a: 2, b: 3 } }]);
    expect(server?.requests[0]?.body).toMatchObject({
      tools: [{ type: "function", function: tools[0] }],
      tool_choice: { type: "function", function: { name: "add" } },
    });
    expect(server?.requests[0]?.headers.authorization).toBeUndefined();

    const second = await model.generate({
      messages: [
        { role: "user", content: "2+3?" },
        toModelMessage(first),
        { role: "tool", results: [{ callId: "call_9", name: "add", output: { sum: 5 } }] },
      ],
      tools,
      toolChoice: "required",
    });
    expect(second.text).toBe("5");
    const body = server?.requests[1]?.body as { messages: unknown[]; tool_choice: unknown };
    expect(body.tool_choice).toBe("required");
    expect(body.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_9", type: "function", function: { name: "add", arguments: '{"a":2,"b":3}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_9", content: '{"sum":5}' },
    ]);
  });

  it("asks for JSON Schema output with response_format and repairs an answer that fails validation", async () => {
    const model = await openai((_request, index) =>
      index === 0
        ? { json: completion({ content: 'Sure! {"answer": 42, "unit": null' }) }
        : { json: completion({ content: 'Here you go:\n```json\n{"answer": 42, "unit": null}\n```' }) },
    );
    const { object, attempts, usage } = await generateObject(
      model,
      { messages: [{ role: "user", content: "answer?" }], responseSchemaName: "answer" },
      z.object({ answer: z.number(), unit: z.string().optional() }),
    );
    expect(object).toEqual({ answer: 42 });
    expect(attempts).toBe(2);
    expect(usage.inputTokens).toBe(80);
    expect(server?.requests[0]?.body).toMatchObject({
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "answer",
          schema: { type: "object", properties: { answer: { type: "number" } } },
        },
      },
    });
  });

  it("fails with LLM_INVALID_OUTPUT once repairs run out", async () => {
    const model = await openai(() => ({ json: completion({ content: '{"answer": "many"}' }) }));
    const error = await expectError(
      generateObject(
        model,
        { messages: [{ role: "user", content: "answer?" }] },
        z.object({ answer: z.number() }),
        {
          maxRepairs: 1,
        },
      ),
      LlmErrorCode.invalidOutput,
    );
    expect(server?.requests).toHaveLength(2);
    expect(error.details).toMatchObject({ attempts: 2 });
    expect(String(error.details.errors)).toContain("answer");
  });

  it("streams SSE deltas, assembles streamed tool-call fragments, and reads usage from the last chunk", async () => {
    const model = await openai(() => ({
      done: true,
      sse: [
        { choices: [{ index: 0, delta: { role: "assistant", content: "Let me " } }] },
        { choices: [{ index: 0, delta: { content: "add." } }] },
        {
          choices: [
            {
              index: 0,
              delta: {
                tool_calls: [
                  { index: 0, id: "call_1", type: "function", function: { name: "add", arguments: '{"a":' } },
                ],
              },
            },
          ],
        },
        {
          choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1,"b":2}' } }] } }],
        },
        { choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
        {
          choices: [],
          usage: { prompt_tokens: 7, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 2 } },
        },
      ],
    }));
    const parts: StreamPart[] = [];
    for await (const part of model.stream({ messages: [{ role: "user", content: "1+2" }], tools }))
      parts.push(part);
    expect(parts.filter((part) => part.type === "text-delta").map((part) => part.text)).toEqual([
      "Let me ",
      "add.",
    ]);
    expect(parts.find((part) => part.type === "tool-call")).toEqual({
      type: "tool-call",
      toolCall: { id: "call_1", name: "add", arguments: { a: 1, b: 2 } },
    });
    const finish = parts.at(-1);
    expect(finish?.type).toBe("finish");
    if (finish?.type === "finish") {
      expect(finish.result).toMatchObject({
        text: "Let me add.",
        finishReason: "tool-calls",
        usage: { inputTokens: 7, outputTokens: 9, cachedTokens: 2 },
      });
    }
    expect(server?.requests[0]?.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("retries a 429 after the Retry-After the server asked for, then succeeds", async () => {
    const model = await openai((_request, index) =>
      index === 0
        ? { status: 429, headers: { "retry-after": "1" }, json: { error: { message: "Rate limit reached" } } }
        : { json: completion({ content: "ok" }) },
    );
    const started = performance.now();
    expect((await model.generate({ messages: [{ role: "user", content: "hi" }] })).text).toBe("ok");
    expect(server?.requests).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("reports LLM_RATE_LIMITED when every attempt is rate limited", async () => {
    const model = await openai(() => ({ status: 429, json: { error: { message: "slow down" } } }));
    const error = await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }] }),
      LlmErrorCode.rateLimited,
    );
    expect(server?.requests).toHaveLength(3);
    expect(error.details).toMatchObject({ status: 429, attempts: 3 });
  });

  it("gives up on 5xx after the configured attempts with LLM_UNAVAILABLE", async () => {
    const model = await openai(() => ({ status: 502, raw: "<html>Bad gateway</html>" }));
    const error = await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }] }),
      LlmErrorCode.unavailable,
    );
    expect(server?.requests).toHaveLength(3);
    expect(error.message).toContain("Bad gateway");
  });

  it("ends a hanging call with LLM_TIMEOUT after each attempt's deadline", async () => {
    const model = await openai(() => ({ hang: true }), { retry: { maxAttempts: 2 } });
    await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }], timeoutMs: 150 }),
      LlmErrorCode.timeout,
    );
    expect(server?.requests).toHaveLength(2);
  });

  it("ends a response whose body stalls half-way with LLM_TIMEOUT", async () => {
    const model = await openai(() => ({ stall: '{"choices": [' }), { retry: { maxAttempts: 1 } });
    await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }], timeoutMs: 150 }),
      LlmErrorCode.timeout,
    );
    const drain = async () => {
      for await (const _part of model.stream({
        messages: [{ role: "user", content: "hi" }],
        timeoutMs: 150,
      })) {
        // drain
      }
    };
    await expectError(drain(), LlmErrorCode.timeout);
  });

  it("reports malformed JSON and malformed tool arguments as LLM_BAD_RESPONSE", async () => {
    const model = await openai((_request, index) =>
      index === 0
        ? { raw: '{"choices": [' }
        : {
            json: completion(
              {
                content: null,
                tool_calls: [{ id: "c", type: "function", function: { name: "add", arguments: "{a:1" } }],
              },
              "tool_calls",
            ),
          },
    );
    await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }] }),
      LlmErrorCode.badResponse,
    );
    const error = await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }], tools }),
      LlmErrorCode.badResponse,
    );
    expect(error.details).toMatchObject({ tool: "add", arguments: "{a:1" });
  });

  it("turns a content_filter finish into LLM_SAFETY_BLOCK", async () => {
    const model = await openai(() => ({ json: completion({ content: "" }, "content_filter") }));
    await expectError(
      model.generate({ messages: [{ role: "user", content: "bad" }] }),
      LlmErrorCode.safetyBlock,
    );
  });

  it("embeds texts through /embeddings, in input order", async () => {
    server = await startStandInServer((request) => {
      const body = request.body as { input: string[] };
      // Answer out of order: the client must sort by index.
      return {
        json: {
          object: "list",
          data: body.input
            .map((text, index) => ({ object: "embedding", index, embedding: [text.length, 0, 1] }))
            .reverse(),
          model: "nomic-embed-text",
          usage: { prompt_tokens: 3, total_tokens: 3 },
        },
      };
    });
    const embedder = new OpenAiCompatibleEmbeddingModel({
      baseUrl: `${server.url}/v1`,
      model: "nomic-embed-text",
      dimensions: 3,
      retry: fastRetry,
    });
    expect(await embedder.embed(["ab", "abcd"])).toEqual([
      [2, 0, 1],
      [4, 0, 1],
    ]);
    expect(server.requests[0]?.path).toBe("/v1/embeddings");
    expect(server.requests[0]?.body).toEqual({ model: "nomic-embed-text", input: ["ab", "abcd"] });
  });
});
