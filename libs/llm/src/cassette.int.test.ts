import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cassette, recordingModel, replayModel } from "./cassette.js";
import { LlmErrorCode } from "./errors.js";
import { GeminiModel } from "./gemini.js";
import { startStandInServer } from "./stand-in-server.js";
import { type GenerateRequest, toModelMessage } from "./types.js";

describe("record a session through the real Gemini SDK, replay it with the provider gone", () => {
  it("replays the same results deterministically, holds no key, and misses loudly on a new request", async () => {
    const apiKey = "AIzaSyTESTKEY-0123456789abcdefghijk";
    const server = await startStandInServer((_request, index) => ({
      json:
        index === 0
          ? {
              candidates: [
                {
                  content: {
                    role: "model",
                    parts: [
                      { functionCall: { name: "add", args: { a: 2, b: 3 } }, thoughtSignature: "c2ln" },
                    ],
                  },
                  finishReason: "STOP",
                },
              ],
              usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 5 },
            }
          : {
              candidates: [
                { content: { role: "model", parts: [{ text: "2 + 3 = 5" }] }, finishReason: "STOP" },
              ],
              usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 6 },
            },
    }));
    const path = join(mkdtempSync(join(tmpdir(), "insitu-cassette-int-")), "session.json");
    const tools = [
      {
        name: "add",
        description: "Adds",
        parameters: { type: "object", properties: { a: { type: "number" } } },
      },
    ];
    const session = async (model: {
      generate(request: GenerateRequest): Promise<import("./types.js").GenerateResult>;
    }) => {
      const first = await model.generate({ messages: [{ role: "user", content: "2+3?" }], tools });
      const call = first.toolCalls[0];
      if (!call) throw new Error("expected a tool call");
      const second = await model.generate({
        messages: [
          { role: "user", content: "2+3?" },
          toModelMessage(first),
          { role: "tool", results: [{ callId: call.id, name: call.name, output: { sum: 5 } }] },
        ],
        tools,
      });
      return [first, second];
    };
    let recorded: Awaited<ReturnType<typeof session>>;
    try {
      const live = new GeminiModel({
        apiKey,
        model: "gemini-3-pro-preview",
        baseUrl: server.url,
        retry: { maxAttempts: 1 },
      });
      recorded = await session(recordingModel(live, new Cassette(), { path, secrets: [apiKey] }));
    } finally {
      await server.close();
    }
    expect(server.requests).toHaveLength(2);
    expect(readFileSync(path, "utf8")).not.toContain(apiKey);

    const replay = replayModel(path);
    expect(await session(replay)).toEqual(recorded);
    await expect(
      replay.generate({ messages: [{ role: "user", content: "something new" }] }),
    ).rejects.toMatchObject({
      code: LlmErrorCode.cassetteMiss,
    });
  });
});
