import { afterEach, describe, expect, it } from "vitest";
import { GeminiModel } from "./gemini.js";
import { OpenAiCompatibleModel } from "./openai-compatible.js";
import { type StandInServer, startStandInServer } from "./stand-in-server.js";

// Images and PDFs given to the model inline, through each provider's real client (the
// @google/genai SDK; our OpenAI-compatible client) against a local stand-in of its wire format.

const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108020000009077533de0000000c4944415478da63f8cfc0000003010100c9fe92ef0000000049454e44ae426082",
  "hex",
).toString("base64");
const PDF = Buffer.from("%PDF-1.4\n% tiny\n%%EOF\n").toString("base64");
const retry = { initialDelayMs: 5, maxDelayMs: 20, jitter: 0, maxAttempts: 1 };
let server: StandInServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("inline files for the model", () => {
  it("Gemini: a user turn's files arrive as inlineData parts after its text", async () => {
    server = await startStandInServer(() => ({
      json: {
        candidates: [
          { content: { role: "model", parts: [{ text: "red" }] }, finishReason: "STOP", index: 0 },
        ],
        usageMetadata: { promptTokenCount: 300, candidatesTokenCount: 1 },
      },
    }));
    const model = new GeminiModel({ apiKey: "k", model: "gemini-3-pro-preview", baseUrl: server.url, retry });
    const result = await model.generate({
      messages: [
        {
          role: "user",
          content: "What colour is the square?",
          files: [
            { mediaType: "image/png", data: PNG, name: "square.png" },
            { mediaType: "application/pdf", data: PDF, name: "memo.pdf" },
          ],
        },
      ],
    });
    expect(result.text).toBe("red");
    const body = server.requests[0]?.body as { contents: { role: string; parts: unknown[] }[] };
    expect(body.contents).toEqual([
      {
        role: "user",
        parts: [
          { text: "What colour is the square?" },
          { inlineData: { mimeType: "image/png", data: PNG } },
          { inlineData: { mimeType: "application/pdf", data: PDF } },
        ],
      },
    ]);
  });

  it("OpenAI-compatible: images travel as image_url data URIs; a PDF is named as not shown", async () => {
    server = await startStandInServer(() => ({
      json: {
        id: "c",
        object: "chat.completion",
        model: "m",
        choices: [{ index: 0, message: { role: "assistant", content: "red" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
      },
    }));
    const model = new OpenAiCompatibleModel({ baseUrl: `${server.url}/v1`, model: "m", retry });
    await model.generate({
      messages: [
        { role: "user", content: "Plain text stays a string." },
        { role: "model", content: "ok" },
        {
          role: "user",
          content: "What colour is the square?",
          files: [
            { mediaType: "image/png", data: PNG, name: "square.png" },
            { mediaType: "application/pdf", data: PDF, name: "memo.pdf" },
          ],
        },
      ],
    });
    const body = server.requests[0]?.body as { messages: { role: string; content: unknown }[] };
    expect(body.messages[0]).toEqual({ role: "user", content: "Plain text stays a string." });
    expect(body.messages[2]).toEqual({
      role: "user",
      content: [
        {
          type: "text",
          text: "What colour is the square?\n\n(Not shown, this model takes images only: memo.pdf (application/pdf).)",
        },
        { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
      ],
    });
  });
});
