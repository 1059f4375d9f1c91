import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { Accountant } from "./accounting.js";
import {
  createEmbeddingModelForRole,
  createModelForRole,
  parseModelsConfig,
  resolveRoleSettings,
} from "./config.js";
import { type StandInServer, startStandInServer } from "./stand-in-server.js";

// A config file selecting a different provider and model per role, each reached through its
// real client (the @google/genai SDK, plain fetch) at a local stand-in, with accounting and a
// task budget on top.

const servers: StandInServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("per-role models through real clients", () => {
  it("routes each role to its configured provider and model, counts the task, and stops it over budget", async () => {
    const gemini = await startStandInServer((request) => ({
      json: {
        candidates: [
          {
            content: { role: "model", parts: [{ text: `gemini answered ${request.path}` }] },
            finishReason: "STOP",
          },
        ],
        usageMetadata: { promptTokenCount: 400, candidatesTokenCount: 100 },
      },
    }));
    const openai = await startStandInServer((request) => {
      if (request.path.endsWith("/embeddings")) {
        return { json: { data: [{ index: 0, embedding: [0.6, 0.8] }] } };
      }
      return {
        json: {
          model: (request.body as { model: string }).model,
          choices: [{ message: { role: "assistant", content: "local answer" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 300, completion_tokens: 50 },
        },
      };
    });
    servers.push(gemini, openai);
    const config = parseModelsConfig({
      default: {
        provider: "gemini",
        baseUrl: gemini.url,
        apiKeyEnv: "TEST_GEMINI_KEY",
        retry: { maxAttempts: 1 },
      },
      summarizer: { model: "gemini-3-flash-preview" },
      executor: {
        provider: "openai-compatible",
        model: "qwen3:32b",
        baseUrl: `${openai.url}/v1`,
        apiKeyEnv: "LOCAL_KEY",
      },
      embedding: {
        provider: "openai-compatible",
        model: "nomic-embed-text",
        baseUrl: `${openai.url}/v1`,
        dimensions: 2,
      },
      prices: { "qwen3:32b": { input: 1, output: 1 } },
    });
    const env = { TEST_GEMINI_KEY: "g-key", LOCAL_KEY: "l-key" };
    const registry = new Registry();
    const accountant = new Accountant({ registry, prices: config.prices });
    const roleModel = (role: "manager" | "executor" | "summarizer") =>
      accountant.wrap(createModelForRole(config, role, env), {
        role,
        ...(resolveRoleSettings(config, role, env).prices
          ? { prices: resolveRoleSettings(config, role, env).prices }
          : {}),
      });
    const manager = roleModel("manager");
    const executor = roleModel("executor");
    const summarizer = roleModel("summarizer");

    accountant.startTask("task-1", { maxTokens: 1500 });
    const ask = { messages: [{ role: "user" as const, content: "go" }], taskId: "task-1" };
    expect((await manager.generate(ask)).text).toBe(
      "gemini answered /v1/models/gemini-3-pro-preview:generateContent",
    );
    expect((await executor.generate(ask)).text).toBe("local answer");
    expect((await summarizer.generate(ask)).text).toBe(
      "gemini answered /v1/models/gemini-3-flash-preview:generateContent",
    );
    expect(gemini.requests.map((request) => request.headers["x-goog-api-key"])).toEqual(["g-key", "g-key"]);
    expect(openai.requests[0]?.headers.authorization).toBe("Bearer l-key");
    expect(openai.requests[0]?.body).toMatchObject({ model: "qwen3:32b" });

    // 500 + 350 + 500 = 1350 tokens used; one more call would be allowed, the one after not.
    expect(accountant.taskUsage("task-1")).toMatchObject({ calls: 3, inputTokens: 1100, outputTokens: 250 });
    await executor.generate(ask);
    await expect(manager.generate(ask)).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
      details: { budget: "tokens" },
    });
    expect(gemini.requests).toHaveLength(2);

    const embedder = createEmbeddingModelForRole(config, env);
    expect(await embedder.embed(["x"])).toEqual([[0.6, 0.8]]);

    const metrics = await registry.metrics();
    expect(metrics).toContain(
      'insitu_llm_calls_total{provider="gemini",model="gemini-3-pro-preview",role="manager",outcome="ok"} 1',
    );
    expect(metrics).toContain(
      'insitu_llm_tokens_total{provider="openai-compatible",model="qwen3:32b",role="executor",kind="input"} 600',
    );
    expect(metrics).toContain('insitu_llm_budget_exceeded_total{role="manager",budget="tokens"} 1');
  });
});
