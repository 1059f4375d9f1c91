import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GenerateRequest } from "@insitu/llm";
import { createScriptedModel } from "@insitu/llm/testing";
import { describe, expect, it } from "vitest";
import { latencyOf, scriptLatencyFromEnv, withScriptLatency } from "./script-latency.js";

const ask = (text: string): GenerateRequest => ({ messages: [{ role: "user", content: text }] });

describe("simulated latency of the scripted model", () => {
  it("reads a fixed wait, a range, a seed and a log file from the environment", () => {
    expect(scriptLatencyFromEnv({})).toBeUndefined();
    expect(scriptLatencyFromEnv({ INSITU_SCRIPT_LATENCY_MS: "0" })).toBeUndefined();
    expect(scriptLatencyFromEnv({ INSITU_SCRIPT_LATENCY_MS: "300" })).toEqual({
      minMs: 300,
      maxMs: 300,
      seed: "0",
    });
    expect(
      scriptLatencyFromEnv({
        INSITU_SCRIPT_LATENCY_MS: "1000-3000",
        INSITU_SCRIPT_LATENCY_SEED: "7",
        INSITU_SCRIPT_LATENCY_LOG: "/tmp/waits.jsonl",
      }),
    ).toEqual({ minMs: 1000, maxMs: 3000, seed: "7", log: "/tmp/waits.jsonl" });
  });

  it("refuses a value that is not milliseconds or a min-max range, naming the variable", () => {
    for (const bad of ["abc", "3000-1000", "-5", "1.5", "1000-"]) {
      expect(() => scriptLatencyFromEnv({ INSITU_SCRIPT_LATENCY_MS: bad }), bad).toThrowError(
        expect.objectContaining({
          code: "INVALID_CONFIG",
          message: expect.stringContaining(`INSITU_SCRIPT_LATENCY_MS=${bad}`),
        }),
      );
    }
  });

  it("draws each call's wait from the range, the same for the same seed, role and request", () => {
    const latency = { minMs: 1000, maxMs: 3000, seed: "1" };
    const waits = Array.from({ length: 200 }, (_, index) => latencyOf(latency, "executor", ask(`q${index}`)));
    for (const wait of waits) {
      expect(wait).toBeGreaterThanOrEqual(1000);
      expect(wait).toBeLessThanOrEqual(3000);
    }
    // Spread over the range, not one value.
    expect(Math.min(...waits)).toBeLessThan(1300);
    expect(Math.max(...waits)).toBeGreaterThan(2700);
    expect(waits.map((_, index) => latencyOf(latency, "executor", ask(`q${index}`)))).toEqual(waits);
    const reseeded = waits.map((_, index) =>
      latencyOf({ ...latency, seed: "2" }, "executor", ask(`q${index}`)),
    );
    expect(reseeded).not.toEqual(waits);
    const otherRole = waits.map((_, index) => latencyOf(latency, "manager", ask(`q${index}`)));
    expect(otherRole).not.toEqual(waits);
  });

  it("logs each wait of a call as a JSON line, then answers as the model does", async () => {
    const dir = await mkdtemp(join(tmpdir(), "insitu-latency-"));
    try {
      const log = join(dir, "waits.jsonl");
      // FAKE model: a scripted one answering "ok".
      const model = withScriptLatency(
        createScriptedModel({ rules: [{ when: {}, reply: "ok" }] }),
        "integrator",
        {
          minMs: 5,
          maxMs: 10,
          seed: "0",
          log,
        },
      );
      expect((await model.generate(ask("one"))).text).toBe("ok");
      let streamed = "";
      for await (const part of model.stream(ask("two")))
        if (part.type === "text-delta") streamed += part.text;
      expect(streamed).toBe("ok");
      const lines = (await readFile(log, "utf8"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { role: string; start: number; end: number });
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        expect(line.role).toBe("integrator");
        expect(line.end).toBeGreaterThanOrEqual(line.start);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
