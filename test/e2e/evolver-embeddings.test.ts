import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StandInServer, startStandInServer } from "@insitu/llm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";
import { mirror, reverse, warmStartScript } from "./scenarios/warm-start/script.js";

/**
 * The evolver's pre-clustering with a configured embedding model, end to end: real nats-server,
 * every role its own process, the real Deno sandbox, the FAKE scripted model for the roles, and
 * a local stand-in server (a FAKE OpenAI-compatible provider) answering the evolver's
 * `/v1/embeddings` requests with vectors labelled by hand. `reverse_text` and `mirror_string`
 * share no word, so only the embeddings can put them before the model at the barrier.
 */
const ROLES = ["manager", "tool-developer", "executor", "integrator", "evolver"] as const;
const root = findRepoRoot();
const QUESTIONS = [reverse("r", "stressed"), mirror("m", "drawer")];
let stack: Stack;
let embeddings: StandInServer;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "insitu-evolver-embed-e2e-"));
  const script = join(work, "script.json");
  await writeFile(script, JSON.stringify(warmStartScript(QUESTIONS), null, 2));
  embeddings = await startStandInServer((request) => {
    const { input } = request.body as { input: string[] };
    const vector = (text: string) =>
      // Both string reversers point the same way; anything else elsewhere.
      text.startsWith("reverse text:")
        ? [1, 0, 0]
        : text.startsWith("mirror string:")
          ? [0.95, 0.31, 0]
          : [0, 0, 1];
    return {
      json: {
        object: "list",
        data: input.map((text, index) => ({ object: "embedding", index, embedding: vector(text) })),
        model: "fake-embed",
        usage: { prompt_tokens: 5 * input.length, total_tokens: 5 * input.length },
      },
    };
  });
  const models = join(work, "insitu.models.json");
  await writeFile(
    models,
    JSON.stringify({
      embedding: {
        provider: "openai-compatible",
        baseUrl: `${embeddings.url}/v1`,
        model: "fake-embed",
        dimensions: 3,
      },
    }),
  );
  stack = await startStack({
    services: ["registry", "sandbox", ...ROLES],
    env: { LOG_LEVEL: "warn", WORK_ACK_WAIT_MS: "3000" },
    serviceEnv: {
      ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: script }])),
      "tool-developer": { INSITU_SCRIPT: script, BUILD_CONCURRENCY: "1" },
      evolver: { INSITU_SCRIPT: script, INSITU_MODELS_CONFIG: models, EVOLVER_EMBEDDINGS: "auto" },
    },
    onLog: (service, line) => {
      if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await embeddings?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("evolver pre-clustering with embeddings", () => {
  it("puts a near-duplicate worded differently before the model at the barrier, and meters the embedder as role evolver", async () => {
    const file = join(work, "questions.jsonl");
    await writeFile(
      file,
      `${QUESTIONS.map((item) => JSON.stringify({ id: item.id, question: item.question })).join("\n")}\n`,
    );
    const out = join(work, "out");
    const child = spawn(
      join(root, "bin/insitu"),
      ["batch", file, "--batch-size", "2", "--out", out, "--nats", stack.natsUrl, "--prefix", stack.prefix],
      { cwd: work, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code, stderr).toBe(0);
    const [row] = (await readFile(join(out, "batches.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map(
        (line) => JSON.parse(line) as { created: number; rejected: { members: string[]; stage: string }[] },
      );
    expect(row?.created).toBe(2);
    // The scripted model answers this group only: it was proposed, and only embeddings link it.
    expect(row?.rejected).toEqual([
      {
        members: ["mirror_string", "reverse_text"],
        stage: "model",
        reason: "seen together through embeddings",
      },
    ]);
    expect(embeddings.requests.length).toBeGreaterThan(0);
    expect(embeddings.requests.every((request) => request.path === "/v1/embeddings")).toBe(true);
    const metrics = await (await fetch(`${stack.url("evolver")}/metrics`)).text();
    expect(metrics).toMatch(
      /insitu_llm_calls_total\{[^}]*model="fake-embed"[^}]*role="evolver"[^}]*\} [1-9]/,
    );
  }, 300_000);
});
