import { InsituError } from "@insitu/errors";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { LlmErrorCode } from "./errors.js";
import { GeminiEmbeddingModel, GeminiModel } from "./gemini.js";
import { generateObject } from "./generate-object.js";
import {
  type StandInReply,
  type StandInRequest,
  type StandInServer,
  startStandInServer,
} from "./stand-in-server.js";
import { type StreamPart, toModelMessage } from "./types.js";

// Every test drives the real @google/genai SDK against a local stand-in speaking the Gemini
// REST wire format (generateContent / streamGenerateContent?alt=sse / batchEmbedContents).

const fastRetry = { initialDelayMs: 5, maxDelayMs: 20, jitter: 0, maxAttempts: 3 };
let server: StandInServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function gemini(
  handler: (request: StandInRequest, index: number) => StandInReply | Promise<StandInReply>,
  options: { retry?: object; timeoutMs?: number } = {},
) {
  server = await startStandInServer(handler);
  return new GeminiModel({
    apiKey: "test-key-123",
    model: "gemini-3-pro-preview",
    baseUrl: server.url,
    retry: { ...fastRetry, ...options.retry },
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

function textResponse(text: string, extra: Record<string, unknown> = {}) {
  return {
    candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: 12,
      candidatesTokenCount: 5,
      cachedContentTokenCount: 4,
      thoughtsTokenCount: 3,
    },
    modelVersion: "gemini-3-pro-preview-001",
    ...extra,
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

describe("Gemini through @google/genai against a local stand-in", () => {
  it("sends system, messages, sampling and thinking settings the way the Gemini API expects, and reads usage", async () => {
    const model = await gemini(() => ({ json: textResponse("Paris.") }));
    const result = await model.generate({
      system: "Answer briefly.",
      messages: [{ role: "user", content: "Capital of France?" }],
      temperature: 0.2,
      maxOutputTokens: 256,
      thinking: { level: "low", includeThoughts: true },
    });
    expect(result).toMatchObject({
      text: "Paris.",
      finishReason: "stop",
      provider: "gemini",
      model: "gemini-3-pro-preview-001",
      usage: { inputTokens: 12, outputTokens: 8, cachedTokens: 4, reasoningTokens: 3 },
    });
    const request = server?.requests[0];
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/v1/models/gemini-3-pro-preview:generateContent");
    expect(request?.headers["x-goog-api-key"]).toBe("test-key-123");
    expect(request?.body).toMatchObject({
      contents: [{ role: "user", parts: [{ text: "Capital of France?" }] }],
      systemInstruction: { parts: [{ text: "Answer briefly." }] },
      generationConfig: {
        temperature: 0.2,
        maxOutputTokens: 256,
        thinkingConfig: { thinkingLevel: "LOW", includeThoughts: true },
      },
    });
  });

  it("declares functions with parametersJsonSchema, forces a tool, and round-trips calls with thought signatures", async () => {
    const model = await gemini((_request, index) =>
      index === 0
        ? {
            json: {
              candidates: [
                {
                  content: {
                    role: "model",
                    parts: [
                      { text: "thinking about it", thought: true },
                      {
                        functionCall: { name: "get_weather", args: { city: "Oslo" } },
                        thoughtSignature: "c2lnLTE=",
                      },
                    ],
                  },
                  finishReason: "STOP",
                },
              ],
              usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 7 },
            },
          }
        : { json: textResponse("It is 3 °C in Oslo.") },
    );
    const tools = [
      {
        name: "get_weather",
        description: "Current weather for a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    ];
    const first = await model.generate({
      messages: [{ role: "user", content: "Weather in Oslo?" }],
      tools,
      toolChoice: { name: "get_weather" },
    });
    expect(first.finishReason).toBe("tool-calls");
    expect(first.reasoning).toBe("thinking about it");
    expect(first.toolCalls).toHaveLength(1);
    expect(first.toolCalls[0]).toMatchObject({
      name: "get_weather",
      arguments: { city: "Oslo" },
      signature: "c2lnLTE=",
    });
    expect(server?.requests[0]?.body).toMatchObject({
      tools: [
        {
          functionDeclarations: [
            {
              name: "get_weather",
              description: "Current weather for a city",
              parametersJsonSchema: tools[0]?.parameters,
            },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } },
    });

    const call = first.toolCalls[0];
    if (!call) throw new Error("no call");
    const second = await model.generate({
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        toModelMessage(first),
        { role: "tool", results: [{ callId: call.id, name: call.name, output: { celsius: 3 } }] },
      ],
      tools,
      toolChoice: "none",
    });
    expect(second.text).toBe("It is 3 °C in Oslo.");
    const sent = server?.requests[1]?.body as { contents: unknown[]; toolConfig: unknown };
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: "NONE" } });
    expect(sent.contents[1]).toEqual({
      role: "model",
      parts: [
        { functionCall: { name: "get_weather", args: { city: "Oslo" } }, thoughtSignature: "c2lnLTE=" },
      ],
    });
    expect(sent.contents[2]).toEqual({
      role: "user",
      parts: [{ functionResponse: { name: "get_weather", response: { celsius: 3 } } }],
    });
  });

  it("asks for structured output with responseJsonSchema and repairs an invalid answer with the errors fed back", async () => {
    const model = await gemini((_request, index) =>
      index === 0
        ? { json: textResponse('```json\n{"city": "Oslo", "celsius": "cold"}\n```') }
        : { json: textResponse('{"city": "Oslo", "celsius": 3, "note": null} Hope that helps!') },
    );
    const schema = z.object({ city: z.string(), celsius: z.number(), note: z.string().optional() });
    const { object, attempts } = await generateObject(
      model,
      { messages: [{ role: "user", content: "Weather in Oslo as JSON" }] },
      schema,
      { maxRepairs: 2 },
    );
    expect(object).toEqual({ city: "Oslo", celsius: 3 });
    expect(attempts).toBe(2);
    const firstBody = server?.requests[0]?.body as { generationConfig: Record<string, unknown> };
    expect(firstBody.generationConfig.responseMimeType).toBe("application/json");
    expect(firstBody.generationConfig.responseJsonSchema).toMatchObject({
      type: "object",
      properties: { city: { type: "string" }, celsius: { type: "number" } },
    });
    const repair = server?.requests[1]?.body as { contents: { role: string; parts: { text: string }[] }[] };
    expect(repair.contents.at(-1)?.parts[0]?.text).toContain("celsius");
  });

  it("streams text deltas through streamGenerateContent?alt=sse and ends with the whole result", async () => {
    const model = await gemini(() => ({
      sse: [
        { candidates: [{ content: { role: "model", parts: [{ text: "Hel" }] } }] },
        { candidates: [{ content: { role: "model", parts: [{ text: "lo" }] } }] },
        {
          candidates: [{ content: { role: "model", parts: [{ text: "!" }] }, finishReason: "STOP" }],
          usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 },
        },
      ],
    }));
    const parts: StreamPart[] = [];
    for await (const part of model.stream({ messages: [{ role: "user", content: "greet" }] }))
      parts.push(part);
    expect(parts.filter((part) => part.type === "text-delta").map((part) => part.text)).toEqual([
      "Hel",
      "lo",
      "!",
    ]);
    const finish = parts.at(-1);
    expect(finish?.type).toBe("finish");
    if (finish?.type === "finish") {
      expect(finish.result.text).toBe("Hello!");
      expect(finish.result.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 });
    }
    expect(server?.requests[0]?.path).toBe("/v1/models/gemini-3-pro-preview:streamGenerateContent?alt=sse");
  });

  it("streams function calls and a thought signature, and retries a 503 before the stream starts", async () => {
    const model = await gemini((_request, index) =>
      index === 0
        ? { status: 503, json: { error: { code: 503, message: "overloaded" } } }
        : {
            sse: [
              {
                candidates: [
                  { content: { role: "model", parts: [{ text: "Checking", thoughtSignature: "dGV4dA==" }] } },
                ],
              },
              {
                candidates: [
                  {
                    content: {
                      role: "model",
                      parts: [{ functionCall: { id: "fc-1", name: "lookup", args: { q: "x" } } }],
                    },
                    finishReason: "STOP",
                  },
                ],
                usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 4, thoughtsTokenCount: 6 },
              },
            ],
          },
    );
    const parts: StreamPart[] = [];
    for await (const part of model.stream({
      messages: [{ role: "user", content: "look it up" }],
      tools: [{ name: "lookup", description: "looks up", parameters: { type: "object" } }],
    })) {
      parts.push(part);
    }
    expect(server?.requests).toHaveLength(2);
    expect(parts.find((part) => part.type === "tool-call")).toEqual({
      type: "tool-call",
      toolCall: { id: "fc-1", name: "lookup", arguments: { q: "x" } },
    });
    const finish = parts.at(-1);
    if (finish?.type !== "finish") throw new Error("no finish part");
    expect(finish.result).toMatchObject({
      text: "Checking",
      finishReason: "tool-calls",
      signature: "dGV4dA==",
      usage: { inputTokens: 5, outputTokens: 10, reasoningTokens: 6 },
    });
    // The signature and the provider's call id go back on the next turn.
    await model
      .generate({ messages: [{ role: "user", content: "q" }, toModelMessage(finish.result)] })
      .catch(() => undefined);
    const contents = (server?.requests[2]?.body as { contents: unknown[] } | undefined)?.contents ?? [];
    expect(contents[1]).toEqual({
      role: "model",
      parts: [
        { text: "Checking", thoughtSignature: "dGV4dA==" },
        { functionCall: { id: "fc-1", name: "lookup", args: { q: "x" } } },
      ],
    });
  });

  it("raises LLM_SAFETY_BLOCK from a stream whose prompt was blocked", async () => {
    const model = await gemini(() => ({ sse: [{ promptFeedback: { blockReason: "PROHIBITED_CONTENT" } }] }));
    const drain = async () => {
      for await (const _part of model.stream({ messages: [{ role: "user", content: "bad" }] })) {
        // drain
      }
    };
    await expectError(drain(), LlmErrorCode.safetyBlock);
  });

  it("retries a 429 after the Retry-After the server asked for, then succeeds", async () => {
    const model = await gemini((_request, index) =>
      index === 0
        ? {
            status: 429,
            headers: { "retry-after": "1" },
            json: { error: { code: 429, message: "Resource exhausted", status: "RESOURCE_EXHAUSTED" } },
          }
        : { json: textResponse("ok") },
    );
    const started = performance.now();
    const result = await model.generate({ messages: [{ role: "user", content: "hi" }] });
    expect(result.text).toBe("ok");
    expect(server?.requests).toHaveLength(2);
    // Backoff alone would wait 5 ms; the server's Retry-After (1 s) must win.
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("gives up on 5xx after the configured attempts with LLM_UNAVAILABLE carrying the provider message", async () => {
    const model = await gemini(() => ({
      status: 503,
      json: { error: { code: 503, message: "The model is overloaded", status: "UNAVAILABLE" } },
    }));
    const error = await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }] }),
      LlmErrorCode.unavailable,
    );
    expect(server?.requests).toHaveLength(3);
    expect(error.message).toContain("The model is overloaded");
    expect(error.details).toMatchObject({ status: 503, attempts: 3, provider: "gemini" });
    // The call spent its retry budget: final, so a work queue must not redeliver the step (ADR 0061).
    expect(error.retryable).toBe(false);
    expect(error.details.retryBudgetSpent).toBe(true);
  });

  it("does not retry a 400 and reports LLM_BAD_REQUEST", async () => {
    const model = await gemini(() => ({
      status: 400,
      json: { error: { code: 400, message: "Invalid JSON payload", status: "INVALID_ARGUMENT" } },
    }));
    await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }] }),
      LlmErrorCode.badRequest,
    );
    expect(server?.requests).toHaveLength(1);
  });

  it("ends a hanging call with LLM_TIMEOUT after each attempt's deadline", async () => {
    const model = await gemini(() => ({ hang: true }), { retry: { maxAttempts: 2 } });
    const error = await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }], timeoutMs: 150 }),
      LlmErrorCode.timeout,
    );
    expect(server?.requests).toHaveLength(2);
    expect(error.details).toMatchObject({ timeoutMs: 150 });
  });

  it("stops waiting at once when the caller aborts", async () => {
    const model = await gemini(() => ({ hang: true }));
    const controller = new AbortController();
    const pending = model.generate({
      messages: [{ role: "user", content: "hi" }],
      signal: controller.signal,
    });
    await waitFor(() => (server?.requests.length ?? 0) > 0);
    controller.abort();
    await expectError(pending, LlmErrorCode.aborted);
    expect(server?.requests).toHaveLength(1);
  });

  it("reports malformed JSON from the provider as LLM_BAD_RESPONSE", async () => {
    const model = await gemini(() => ({ raw: '{"candidates": [{"content": ' }));
    await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }] }),
      LlmErrorCode.badResponse,
    );
  });

  it("turns a blocked prompt and a SAFETY finish into LLM_SAFETY_BLOCK", async () => {
    const model = await gemini((_request, index) =>
      index === 0
        ? {
            json: {
              promptFeedback: {
                blockReason: "SAFETY",
                safetyRatings: [{ category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH" }],
              },
              usageMetadata: { promptTokenCount: 9 },
            },
          }
        : { json: { candidates: [{ content: { role: "model", parts: [] }, finishReason: "SAFETY" }] } },
    );
    const blocked = await expectError(
      model.generate({ messages: [{ role: "user", content: "bad" }] }),
      LlmErrorCode.safetyBlock,
    );
    expect(blocked.details).toMatchObject({ blockReason: "SAFETY" });
    expect(blocked.category).toBe("user");
    const stopped = await expectError(
      model.generate({ messages: [{ role: "user", content: "bad" }] }),
      LlmErrorCode.safetyBlock,
    );
    expect(stopped.details).toMatchObject({ finishReason: "SAFETY" });
  });

  it("reports empty candidates as LLM_EMPTY_RESPONSE", async () => {
    const model = await gemini(() => ({ json: { candidates: [], usageMetadata: { promptTokenCount: 1 } } }));
    await expectError(
      model.generate({ messages: [{ role: "user", content: "hi" }] }),
      LlmErrorCode.emptyResponse,
    );
  });

  it("embeds texts through batchEmbedContents", async () => {
    server = await startStandInServer((request) => {
      const body = request.body as { requests: { content: { parts: { text: string }[] } }[] };
      return {
        json: {
          embeddings: body.requests.map((item) => ({
            values: [item.content.parts[0]?.text.length ?? 0, 1, 0, 0],
          })),
        },
      };
    });
    const embedder = new GeminiEmbeddingModel({
      apiKey: "k",
      baseUrl: server.url,
      dimensions: 4,
      retry: fastRetry,
    });
    const reported: number[] = [];
    const vectors = await embedder.embed(["a", "abc", "x".repeat(41)], {
      onUsage: (usage) => reported.push(usage.inputTokens),
    });
    expect(vectors).toEqual([
      [1, 1, 0, 0],
      [3, 1, 0, 0],
      [41, 1, 0, 0],
    ]);
    // Gemini reports no embedding usage: estimated at 4 characters a token, at least 1 a text.
    expect(reported).toEqual([1 + 1 + 11]);
    expect(server.requests[0]?.path).toBe("/v1/models/gemini-embedding-001:batchEmbedContents");
    expect(server.requests[0]?.body).toMatchObject({
      requests: [
        { model: "models/gemini-embedding-001", outputDimensionality: 4 },
        { model: "models/gemini-embedding-001", outputDimensionality: 4 },
        { model: "models/gemini-embedding-001", outputDimensionality: 4 },
      ],
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setImmediate(resolve));
  }
}
