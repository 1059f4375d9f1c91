import { describe, expect, it } from "vitest";
import { detectModelSetup, NO_MODEL_MESSAGE } from "./model-setup.js";
import { reachStack, resolveTargets } from "./targets.js";
import { demoFigures, renderFigures } from "./commands/demo.js";
import { renderTools } from "./commands/tools.js";
import { failureReason, isNotableNatsLine } from "./commands/up.js";

const state = {
  pid: 1,
  startedAt: "now",
  natsUrl: "nats://127.0.0.1:5000",
  natsMonitorUrl: "http://127.0.0.1:5001",
  prefix: "insitu",
  services: { gateway: { port: 9000 } },
};

describe("resolveTargets", () => {
  it("prefers flags, then the running stack, then env, then defaults", () => {
    expect(resolveTargets({}, {}, undefined)).toEqual({
      gatewayUrl: "http://127.0.0.1:8080",
      natsUrl: "nats://127.0.0.1:4222",
      monitorUrl: "http://127.0.0.1:8222",
      prefix: "insitu",
      source: "defaults",
    });
    expect(resolveTargets({}, { NATS_URL: "nats://elsewhere:4222" }, state)).toMatchObject({
      gatewayUrl: "http://127.0.0.1:9000",
      natsUrl: "nats://127.0.0.1:5000",
      source: "stack",
    });
    expect(resolveTargets({ nats: "nats://flag:1" }, { NATS_URL: "nats://env:1" }, state)).toMatchObject({
      natsUrl: "nats://flag:1",
      source: "flags",
    });
    expect(resolveTargets({}, { NATS_URL: "nats://env:1", NATS_PREFIX: "p" }, undefined)).toMatchObject({
      natsUrl: "nats://env:1",
      prefix: "p",
      source: "env",
    });
  });
});

describe("detectModelSetup", () => {
  const nowhere = "/nonexistent-dir-without-models-config";
  it("recognises Gemini, an OpenAI-compatible endpoint and a script", () => {
    expect(detectModelSetup({ GEMINI_API_KEY: "k" }, nowhere)).toMatchObject({
      configured: true,
      provider: "gemini",
    });
    expect(
      detectModelSetup({ INSITU_OPENAI_BASE_URL: "http://x/v1", INSITU_OPENAI_MODEL: "m" }, nowhere),
    ).toMatchObject({
      configured: true,
      provider: "openai-compatible",
      description: "openai-compatible m at http://x/v1",
    });
    expect(detectModelSetup({ INSITU_SCRIPT: "/s.json" }, nowhere)).toMatchObject({
      configured: true,
      provider: "scripted",
    });
  });

  it("says exactly what to set when nothing is configured", () => {
    const setup = detectModelSetup({}, nowhere);
    expect(setup).toEqual({ configured: false, message: NO_MODEL_MESSAGE });
    expect(NO_MODEL_MESSAGE).toContain("export GEMINI_API_KEY=");
    expect(NO_MODEL_MESSAGE).toContain("INSITU_OPENAI_BASE_URL=");
    expect(NO_MODEL_MESSAGE).toContain("insitu demo");
  });

  it("names the missing model when only the endpoint is set", () => {
    const setup = detectModelSetup({ INSITU_OPENAI_BASE_URL: "http://x/v1" }, nowhere);
    expect(setup.configured).toBe(false);
    expect(setup.configured ? "" : setup.message).toContain("INSITU_OPENAI_MODEL");
  });
});

describe("demo figures", () => {
  const usage = (toolCalls: number) => ({ inputTokens: 100, outputTokens: 10, costUsd: 0, toolCalls });
  const record = (taskId: string, created: string[], used: string[], calls: number) => ({
    taskId,
    question: "q",
    status: "succeeded" as const,
    round: 1,
    budgets: { rounds: 5, tokens: 1, costUsd: 1, wallMs: 1000, executorSteps: 10 },
    createdAt: "",
    updatedAt: "",
    toolsUsed: used,
    toolsCreated: created,
    usage: usage(calls),
    rounds: [],
  });

  it("counts created and reused tools, calls, tokens and EGL", () => {
    const figures = demoFigures(
      ["q1", "q2"],
      [record("a", ["count_vowels"], ["count_vowels"], 1), record("b", [], ["count_vowels"], 1)],
      { egl: 0.5, librarySize: 1 },
    );
    expect(figures).toMatchObject({
      toolsCreated: 1,
      toolsReused: 1,
      toolCalls: 2,
      egl: 0.5,
      librarySize: 1,
      inputTokens: 200,
    });
    const text = renderFigures(figures);
    expect(text).toContain("Q2 succeeded: created no tools; reused count_vowels; 1 tool call(s)");
    expect(text).toContain("SCRIPTED");
  });

  it("computes EGL itself when the registry gave no summary", () => {
    expect(demoFigures(["q"], [record("a", ["x_y", "y_z"], ["x_y"], 4)], undefined).egl).toBe(0.5);
  });

  it("says when repaired versions make the registry's count differ from the new tools", () => {
    const figures = demoFigures(["q"], [record("a", ["x_y"], ["x_y"], 2)], { egl: 1, toolsCreated: 2 });
    expect(renderFigures(figures)).toContain("tools created   1   (2 tool versions, counting repaired ones)");
  });
});

describe("failureReason", () => {
  it("finds the thrown error's message in a service's last lines", () => {
    expect(
      failureReason({
        message: "exited",
        details: { lastLines: ["", 'InsituError: no model is configured for role "manager"', "  at x"] },
      }),
    ).toBe('no model is configured for role "manager"');
    expect(
      failureReason({
        message: "exited",
        details: { lastLines: ['{"level":"error","msg":"cannot bind","error":{"message":"EADDRINUSE"}}'] },
      }),
    ).toBe("cannot bind: EADDRINUSE");
    expect(failureReason({ message: "fallback", details: {} })).toBe("fallback");
  });
});

describe("renderTools", () => {
  it("shows names, usage and descriptions, or says the library is empty", () => {
    expect(renderTools([], { snapshot: 0, total: 0 })).toContain("Library snapshot 0: 0 tools\n  (none yet");
    const text = renderTools(
      [{ name: "count_vowels", description: "Counts   vowels", calls: 3, successRate: 2 / 3, hash: "h" }],
      { snapshot: 2, total: 1 },
    );
    expect(text).toBe("Library snapshot 2: 1 tool\n  count_vowels  3 calls, 67% ok     Counts vowels\n");
  });
});

describe("isNotableNatsLine", () => {
  it("keeps warnings, errors and where NATS listens; drops the banner", () => {
    expect(
      isNotableNatsLine(
        "[1] 2026/01/01 00:00:00.000000 [INF] Listening for client connections on 127.0.0.1:4222",
      ),
    ).toBe(true);
    expect(isNotableNatsLine("[1] 2026/01/01 00:00:00.000000 [WRN] JetStream resource limits exceeded")).toBe(
      true,
    );
    expect(
      isNotableNatsLine(
        "[1] 2026/01/01 00:00:00.000000 [INF]  _ | | __|_   _/ __|_   _| _ \\ __| /_\\ |  \\/  |",
      ),
    ).toBe(false);
    expect(isNotableNatsLine("[1] 2026/01/01 00:00:00.000000 [INF]   Version:  2.9.10")).toBe(false);
  });
});

describe("reachStack", () => {
  it("hands back what it opened, or says the stack is unreachable with the credentials masked", async () => {
    const said: string[] = [];
    const io = { out: () => undefined, err: (text: string) => said.push(text), env: {}, color: false };
    expect(await reachStack(io, "nats://u:secret@127.0.0.1:1", async () => 42)).toBe(42);
    expect(said).toEqual([]);
    const opened = await reachStack(io, "nats://u:secret@127.0.0.1:1", async () => {
      throw new Error("connection refused");
    });
    expect(opened).toBeUndefined();
    expect(said.join("")).toMatch(
      /Cannot reach NATS at .*127\.0\.0\.1:1 — is the stack running\? \(connection refused\)/,
    );
    expect(said.join("")).not.toContain("secret");
  });
});
