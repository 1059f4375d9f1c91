import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { Accountant } from "./accounting.js";
import {
  createEmbeddingModelForRole,
  createModelForRole,
  loadModelsConfig,
  parseModelsConfig,
  resolveRoleSettings,
} from "./config.js";
import { LlmErrorCode } from "./errors.js";
import { createScriptedModel } from "./scripted.js";

function caught(run: () => unknown): InsituError {
  try {
    run();
  } catch (error) {
    return error as InsituError;
  }
  throw new Error("expected an error");
}

describe("per-role model settings", () => {
  it("with only GEMINI_API_KEY set, uses Gemini 3 Pro for reasoning roles and Flash for the summarizer", () => {
    const env = { GEMINI_API_KEY: "k" };
    expect(resolveRoleSettings({}, "manager", env)).toMatchObject({
      provider: "gemini",
      model: "gemini-3-pro-preview",
      apiKeyEnv: "GEMINI_API_KEY",
      prices: { input: 2, output: 12 },
    });
    expect(resolveRoleSettings({}, "summarizer", env).model).toBe("gemini-3-flash-preview");
    expect(resolveRoleSettings({}, "embedding", env)).toMatchObject({
      model: "gemini-embedding-001",
      dimensions: 768,
    });
    const model = createModelForRole({}, "executor", env);
    expect([model.provider, model.model]).toEqual(["gemini", "gemini-3-pro-preview"]);
  });

  it("with nothing configured, says exactly what to set", () => {
    const error = caught(() => createModelForRole({}, "manager", {}));
    expect(error.code).toBe(LlmErrorCode.notConfigured);
    expect(error.category).toBe("user");
    expect(error.message).toContain("GEMINI_API_KEY");
    expect(error.message).toContain("INSITU_OPENAI_BASE_URL");
    expect(error.message).toContain("INSITU_OPENAI_MODEL");
  });

  it("selects different providers and models per role from the config file; secrets come from the named env var", () => {
    const config = parseModelsConfig({
      default: { provider: "gemini", apiKeyEnv: "MY_GEMINI_KEY", temperature: 0.5 },
      executor: { provider: "openai-compatible", model: "qwen3:32b", baseUrl: "http://127.0.0.1:11434/v1" },
      summarizer: { model: "gemini-2.5-flash", maxOutputTokens: 1024 },
      prices: { "qwen3:32b": { input: 0.1, output: 0.2 } },
    });
    const env = { MY_GEMINI_KEY: "secret" };
    const manager = createModelForRole(config, "manager", env);
    const executor = createModelForRole(config, "executor", env);
    const summarizer = createModelForRole(config, "summarizer", env);
    expect([manager.provider, manager.model]).toEqual(["gemini", "gemini-3-pro-preview"]);
    expect([executor.provider, executor.model]).toEqual(["openai-compatible", "qwen3:32b"]);
    expect([summarizer.provider, summarizer.model]).toEqual(["gemini", "gemini-2.5-flash"]);
    expect(resolveRoleSettings(config, "executor", env)).toMatchObject({
      temperature: 0.5,
      prices: { input: 0.1 },
    });
    expect(resolveRoleSettings(config, "summarizer", env)).toMatchObject({
      maxOutputTokens: 1024,
      temperature: 0.5,
    });
  });

  it("names the missing key variable when a role's apiKeyEnv is unset", () => {
    const error = caught(() =>
      createModelForRole({ manager: { provider: "gemini", apiKeyEnv: "TEAM_KEY" } }, "manager", {}),
    );
    expect(error.code).toBe(LlmErrorCode.notConfigured);
    expect(error.message).toContain("export TEAM_KEY=");
  });

  it("picks an OpenAI-compatible server from INSITU_OPENAI_* when no Gemini key exists", () => {
    const env = { INSITU_OPENAI_BASE_URL: "http://127.0.0.1:8000/v1", INSITU_OPENAI_MODEL: "llama-3.3-70b" };
    expect(resolveRoleSettings({}, "integrator", env)).toMatchObject({
      provider: "openai-compatible",
      model: "llama-3.3-70b",
      baseUrl: "http://127.0.0.1:8000/v1",
    });
    const missingModel = caught(() =>
      resolveRoleSettings({}, "integrator", { INSITU_OPENAI_BASE_URL: "http://x/v1" }),
    );
    expect(missingModel.message).toContain("INSITU_OPENAI_MODEL");
    const embedding = caught(() =>
      createEmbeddingModelForRole(
        { embedding: { model: "nomic-embed-text" } },
        { INSITU_OPENAI_BASE_URL: "http://x/v1" },
      ),
    );
    expect(embedding.message).toContain("dimensions");
  });

  it("refuses unknown fields, bad values and literal keys in the file, naming the field", () => {
    const typo = caught(() => parseModelsConfig({ manager: { modle: "x" } }));
    expect(typo.code).toBe("INVALID_CONFIG");
    expect(typo.message).toContain("manager");
    const badTemperature = caught(() => parseModelsConfig({ executor: { temperature: 7 } }));
    expect(badTemperature.message).toContain("executor.temperature");
    const literalKey = caught(() => parseModelsConfig({ default: { apiKey: "AIza..." } }));
    expect(literalKey.code).toBe("INVALID_CONFIG");
    const badEnvName = caught(() => parseModelsConfig({ default: { apiKeyEnv: "not a name" } }));
    expect(badEnvName.message).toContain("apiKeyEnv");
  });

  it("loads insitu.models.json from the working directory or INSITU_MODELS_CONFIG, and none is fine", () => {
    const dir = mkdtempSync(join(tmpdir(), "insitu-models-"));
    expect(loadModelsConfig(undefined, {}, dir)).toEqual({});
    writeFileSync(join(dir, "insitu.models.json"), JSON.stringify({ manager: { model: "gemini-2.5-pro" } }));
    expect(loadModelsConfig(undefined, {}, dir)).toEqual({ manager: { model: "gemini-2.5-pro" } });
    writeFileSync(join(dir, "other.json"), "{ not json");
    expect(caught(() => loadModelsConfig(undefined, { INSITU_MODELS_CONFIG: "other.json" }, dir)).code).toBe(
      "INVALID_CONFIG",
    );
  });

  it("wraps the role's model for accounting when given an accountant, with the role's resolved prices", async () => {
    const accountant = new Accountant();
    const model = createModelForRole(
      { manager: { provider: "scripted", prices: { input: 1, output: 0 } } },
      "manager",
      {},
      {
        scripted: createScriptedModel([
          { text: "x", usage: { inputTokens: 1_000_000, outputTokens: 0, cachedTokens: 0 } },
        ]),
        accountant,
      },
    );
    await model.generate({ messages: [{ role: "user", content: "x" }], taskId: "t" });
    expect(accountant.roleUsage("manager")).toMatchObject({ calls: 1, costUsd: 1 });
  });

  it("applies role settings as request defaults; a request's own values win; scripted roles use the given fake", async () => {
    const fake = createScriptedModel(["a", "b"]);
    const model = createModelForRole(
      { default: { provider: "scripted", temperature: 0.3, maxOutputTokens: 100, timeoutMs: 5000 } },
      "manager",
      {},
      { scripted: fake },
    );
    await model.generate({ messages: [{ role: "user", content: "x" }] });
    await model.generate({ messages: [{ role: "user", content: "x" }], temperature: 0 });
    expect(fake.calls[0]).toMatchObject({ temperature: 0.3, maxOutputTokens: 100, timeoutMs: 5000 });
    expect(fake.calls[1]?.temperature).toBe(0);
  });
});

describe("the example config shipped with the library", () => {
  it("is valid and gives every role a model", async () => {
    const { readFileSync } = await import("node:fs");
    const example = parseModelsConfig(
      JSON.parse(readFileSync(new URL("../insitu.models.example.json", import.meta.url), "utf8")),
    );
    for (const role of [
      "manager",
      "tool-developer",
      "executor",
      "integrator",
      "evolver",
      "summarizer",
      "embedding",
    ] as const) {
      expect(resolveRoleSettings(example, role, { GEMINI_API_KEY: "k" }).model).toMatch(/^gemini-/);
    }
  });
});
