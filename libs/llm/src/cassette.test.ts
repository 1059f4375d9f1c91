import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { Cassette, recordingModel, replayModel, requestKey, scrubSecrets } from "./cassette.js";
import { LlmErrorCode } from "./errors.js";
import { createScriptedModel } from "./scripted.js";
import type { GenerateRequest, StreamPart } from "./types.js";

const ask = (content: string): GenerateRequest => ({ messages: [{ role: "user", content }] });

describe("record and replay", () => {
  it("replays a recorded session from disk, identical results in order, then misses loudly", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "insitu-cassette-")), "session.json");
    const live = createScriptedModel({
      steps: ["one", { toolCalls: [{ name: "t", arguments: { x: 1 } }] }, "one again"],
    });
    const recorder = recordingModel(live, new Cassette(), { path });
    const first = await recorder.generate(ask("a"));
    const second = await recorder.generate({
      ...ask("b"),
      tools: [{ name: "t", description: "d", parameters: {} }],
    });
    const third = await recorder.generate(ask("a"));

    const replay = replayModel(path);
    expect(await replay.generate(ask("a"))).toEqual(first);
    expect(
      await replay.generate({ ...ask("b"), tools: [{ name: "t", description: "d", parameters: {} }] }),
    ).toEqual(second);
    expect(await replay.generate(ask("a"))).toEqual(third);
    const repeated = await replay.generate(ask("a")).catch((caught: unknown) => caught);
    expect((repeated as InsituError).code).toBe(LlmErrorCode.cassetteMiss);
    const unknown = await replay.generate(ask("never recorded")).catch((caught: unknown) => caught);
    expect(unknown).toBeInstanceOf(InsituError);
    expect((unknown as InsituError).code).toBe(LlmErrorCode.cassetteMiss);
    expect((unknown as InsituError).message).toContain("never recorded");
  });

  it("keys ignore key order, signals, deadlines and task ids but not content", () => {
    const base = { system: "s", temperature: 0.1, ...ask("hi") };
    const reordered = { temperature: 0.1, messages: [{ content: "hi", role: "user" as const }], system: "s" };
    expect(requestKey(base, "m")).toBe(requestKey(reordered, "m"));
    expect(
      requestKey({ ...base, signal: new AbortController().signal, timeoutMs: 5, taskId: "t" }, "m"),
    ).toBe(requestKey(base, "m"));
    expect(requestKey({ ...base, temperature: 0.2 }, "m")).not.toBe(requestKey(base, "m"));
    expect(requestKey(base, "other-model")).not.toBe(requestKey(base, "m"));
  });

  it("scrubs API keys and Authorization values from what it writes", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "insitu-cassette-")), "secret.json");
    const secret = "my-very-secret-value-42";
    const live = createScriptedModel([`your key is ${secret} and Bearer abc.def`]);
    await recordingModel(live, new Cassette(), { path, secrets: [secret] }).generate(
      ask(`use AIzaSyA1234567890abcdefghijklmnopq and sk-abcdefghijklmnopqrstu and ${secret}`),
    );
    const written = readFileSync(path, "utf8");
    expect(written).not.toContain(secret);
    expect(written).not.toContain("AIzaSy");
    expect(written).not.toContain("sk-abcdef");
    expect(written).not.toContain("abc.def");
    expect(written).toContain("[scrubbed]");
    expect(
      scrubSecrets({ headers: { Authorization: "Bearer x", "x-goog-api-key": "k" }, apiKey: "k" }),
    ).toEqual({
      headers: { Authorization: "[scrubbed]", "x-goog-api-key": "[scrubbed]" },
      apiKey: "[scrubbed]",
    });
  });

  it("records typed errors and replays them as the same typed error; streams replay too", async () => {
    const cassette = new Cassette();
    const live = createScriptedModel([
      { error: { code: "LLM_SAFETY_BLOCK", message: "blocked" } },
      "streamed text",
    ]);
    const recorder = recordingModel(live, cassette);
    await expect(recorder.generate(ask("bad"))).rejects.toMatchObject({ code: "LLM_SAFETY_BLOCK" });
    for await (const _part of recorder.stream(ask("good"))) {
      // drain
    }
    const replay = replayModel(cassette);
    await expect(replay.generate(ask("bad"))).rejects.toMatchObject({
      code: "LLM_SAFETY_BLOCK",
      message: "blocked",
    });
    const parts: StreamPart[] = [];
    for await (const part of replay.stream(ask("good"))) parts.push(part);
    expect(parts.at(-1)).toMatchObject({ type: "finish", result: { text: "streamed text" } });
  });
});
