import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StandInServer, startStandInServer } from "@insitu/llm/testing";
import { chooseEmbeddings } from "@insitu/registry";
import { createLogger } from "@insitu/telemetry";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { type ClusterCandidate, preCluster, similarity } from "./cluster.js";
import { CandidateVectors } from "./embeddings.js";

/**
 * Pre-clustering through the real embedding path: the evolver's embedder is chosen from a models
 * config exactly as the service does it (`chooseEmbeddings`, EVOLVER_EMBEDDINGS=auto), and the real
 * OpenAI-compatible HTTP client talks to a local stand-in server (a FAKE provider) that answers
 * `/v1/embeddings` with vectors labelled by hand per tool.
 */
const tool = (name: string, description: string, input: string[], output: string[]): ClusterCandidate => ({
  hash: `sha256:${name}`,
  name,
  description,
  inputSchema: {
    type: "object",
    properties: Object.fromEntries(input.map((field) => [field, { type: "string" }])),
  },
  outputSchema: { type: "object", properties: Object.fromEntries(output.map((field) => [field, {}])) },
  fresh: true,
});
const reverseText = tool("reverse_text", "Reverses the characters of a text.", ["text"], ["reversed"]);
const mirrorString = tool("mirror_string", "Returns the string written backwards.", ["s"], ["result"]);
const fetchWeather = tool(
  "fetch_weather",
  "Current temperature in a city from a weather API.",
  ["city"],
  ["celsius"],
);
const LABELS: [string, number[]][] = [
  ["reverse text:", [1, 0, 0]],
  ["mirror string:", [0.96, 0.28, 0]],
  ["fetch weather:", [0, 0, 1]],
];

let server: StandInServer | undefined;
let directory: string | undefined;
afterEach(async () => {
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

describe("evolver pre-clustering with a configured embedding model", () => {
  it("links a near-duplicate the lexical method misses, and meters the embedding calls under role evolver", async () => {
    server = await startStandInServer((request) => {
      const { input } = request.body as { input: string[] };
      return {
        json: {
          object: "list",
          data: input.map((text, index) => ({
            object: "embedding",
            index,
            embedding: LABELS.find(([prefix]) => text.startsWith(prefix))?.[1] ?? [0, 1, 0],
          })),
          model: "fake-embed",
          usage: { prompt_tokens: 7 * input.length, total_tokens: 7 * input.length },
        },
      };
    });
    directory = await mkdtemp(join(tmpdir(), "insitu-evolver-embed-"));
    const config = join(directory, "insitu.models.json");
    await writeFile(
      config,
      JSON.stringify({
        embedding: {
          provider: "openai-compatible",
          baseUrl: `${server.url}/v1`,
          model: "fake-embed",
          dimensions: 3,
        },
      }),
    );
    const metrics = new Registry();
    const embedder = chooseEmbeddings("auto", {
      logger: createLogger({ service: "evolver-test", level: "warn" }),
      metrics,
      role: "evolver",
      env: { INSITU_MODELS_CONFIG: config },
    });
    expect(embedder?.model).toBe("fake-embed");
    const vectors = new CandidateVectors(embedder as NonNullable<typeof embedder>, { threshold: 0.85 });
    const candidates = [reverseText, mirrorString, fetchWeather];

    expect(similarity(reverseText, mirrorString)).toBeLessThan(0.35);
    expect(preCluster(candidates)).toEqual([]);
    const groups = preCluster(candidates, {
      vectors: await vectors.vectors(candidates),
      embeddingThreshold: vectors.threshold,
    });
    expect(groups.map((group) => group.map((member) => member.name))).toEqual([
      ["mirror_string", "reverse_text"],
    ]);

    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.path).toBe("/v1/embeddings");
    expect((server.requests[0]?.body as { input?: string[] } | undefined)?.input?.[0]).toBe(
      "reverse text: Reverses the characters of a text. Input: text. Output: reversed.",
    );
    const text = await metrics.metrics();
    expect(text).toMatch(/insitu_llm_tokens_total\{[^}]*role="evolver"[^}]*kind="input"[^}]*\} 21/);
    expect(text).toMatch(/insitu_llm_calls_total\{[^}]*role="evolver"[^}]*outcome="ok"[^}]*\} 1/);
  });

  it("is lexical only when no embedding model is configured", () => {
    const embedder = chooseEmbeddings("auto", {
      logger: createLogger({ service: "evolver-test", level: "warn" }),
      metrics: new Registry(),
      role: "evolver",
      env: {},
    });
    expect(embedder).toBeUndefined();
  });
});
