import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Bus, connectBus } from "@insitu/bus";
import { RegistryGet, RegistryStats, type TaskEvent, type TaskRecord } from "@insitu/contracts";
import {
  type StandInReply,
  type StandInRequest,
  type StandInServer,
  estimateTokens,
  hashingVector,
  startStandInServer,
} from "@insitu/llm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.js";
import { type FollowedTask, eventsOf, submitTask } from "./task-client.js";

/**
 * The REAL provider path through the whole system. No service runs a scripted model: each role
 * reads a models config file (as a user writes it) selecting the Gemini provider, and the real
 * @google/genai SDK inside every service talks HTTP to a local Gemini stand-in (FAKE — its
 * answers come from the policy below, chosen by what each request is). The tool the developer
 * "writes" is a web-search tool that calls a local Tavily stand-in (FAKE) with a Bearer key the
 * sandbox operator grants; it runs for real in Deno under the sandbox's network and secret
 * policy.
 *
 * Two stacks, identical except for the sandbox operator's policy:
 * - granted: the loopback host of the Tavily stand-in is explicitly allowed and TAVILY_API_KEY
 *   granted → the search reaches the stand-in and the answer comes from its results;
 * - denied: the operator allows no internal host → the call ends PERMISSION_DENIED naming it.
 */

const ROLES = ["manager", "tool-developer", "executor", "integrator"] as const;
const SERVICES = ["registry", "sandbox", ...ROLES] as const;
const TOOL = "search_web";

interface Variant {
  label: "granted" | "denied";
  geminiKey: string;
  tavilyKey: string;
  tavily: StandInServer;
  tavilyHost: string;
  /** A fact only the Tavily stand-in knows; the answer must carry it. */
  codename: string;
  question: string;
}

/** What the Gemini stand-in saw, per call. */
interface SeenCall {
  variant: string;
  role: string;
  /** What the role asked for: plan, judge, build, repair, turn (a function call), report, answer. */
  kind: string;
  path: string;
  apiKey: string | undefined;
}

const seen: SeenCall[] = [];
const logs: string[] = [];
const variants = new Map<string, Variant>();
let gemini: StandInServer;
let configDir: string;
const stacks: Partial<Record<Variant["label"], { stack: Stack; bus: Bus }>> = {};

// ---------------------------------------------------------------------------------------------
// The Tavily stand-in (FAKE): POST /search with `Authorization: Bearer <key>`, Tavily's JSON shape.

async function startTavily(expectedKey: string, codename: string): Promise<StandInServer> {
  return startStandInServer((request) => {
    if (request.method !== "POST" || request.path !== "/search")
      return { status: 404, json: { detail: { error: "Not found" } } };
    if (request.headers.authorization !== `Bearer ${expectedKey}`)
      return { status: 401, json: { detail: { error: "Unauthorized: missing or invalid API key." } } };
    const body = request.body as { query?: string; max_results?: number };
    return {
      json: {
        query: body.query,
        answer: null,
        results: [
          {
            title: "Nimbus project gets a new name",
            url: "https://news.example.org/nimbus-renamed",
            content: `The Nimbus project's new codename is ${codename}, the team announced in its spring release.`,
            score: 0.93,
          },
          {
            title: "Cloud formations explained",
            url: "https://weather.example.org/nimbus",
            content: "Nimbostratus clouds bring steady rain.",
            score: 0.41,
          },
        ].slice(0, body.max_results ?? 5),
        response_time: 0.01,
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The Gemini stand-in's policy (FAKE MODEL): one answer per kind of request, computed from the
// request's content the way a model would read it — the plan from the question, the tool-call
// arguments from the question, the report from the tool's result, the answer from the report.

interface GeminiBody {
  systemInstruction?: { parts?: { text?: string }[] };
  contents?: {
    role: string;
    parts: {
      text?: string;
      functionCall?: { name: string; args?: Record<string, unknown> };
      functionResponse?: { name: string; response?: Record<string, unknown> };
    }[];
  }[];
  tools?: { functionDeclarations?: { name: string }[] }[];
  generationConfig?: { responseJsonSchema?: unknown };
}

function roleOf(system: string): string {
  if (system.includes("Manager of insitu")) return "manager";
  if (system.includes("Tool Developer of insitu")) return "tool-developer";
  if (system.includes("**Executor** of insitu")) return "executor";
  if (system.includes("Integrator of insitu")) return "integrator";
  return "unknown";
}

function textOf(parts: NonNullable<GeminiBody["contents"]>[number]["parts"]): string {
  return (parts ?? []).map((part) => part.text ?? "").join("");
}

function geminiText(text: string, promptChars: number) {
  return {
    candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: Math.ceil(promptChars / 4),
      candidatesTokenCount: estimateTokens(text),
    },
    modelVersion: "gemini-stand-in",
  };
}

function geminiCall(name: string, args: Record<string, unknown>, promptChars: number) {
  return {
    candidates: [
      {
        content: { role: "model", parts: [{ functionCall: { name, args } }] },
        finishReason: "STOP",
        index: 0,
      },
    ],
    usageMetadata: { promptTokenCount: Math.ceil(promptChars / 4), candidatesTokenCount: 12 },
    modelVersion: "gemini-stand-in",
  };
}

function badRequest(message: string): StandInReply {
  return { status: 400, json: { error: { code: 400, message, status: "INVALID_ARGUMENT" } } };
}

const TOOL_SOURCE = readFileSync(
  fileURLToPath(new URL("./fixtures/real-provider/search_web.tool.txt", import.meta.url)),
  "utf8",
);

function toolCode(variant: Variant): string {
  return TOOL_SOURCE.replaceAll("__ENDPOINT__", `http://${variant.tavilyHost}/search`);
}

function toolDraft(variant: Variant) {
  return {
    code: toolCode(variant),
    tests: [
      {
        name: "an empty query is reported in error",
        input: { query: "   " },
        expect: { checks: [{ path: "error", op: "contains", value: "empty" }] },
      },
      {
        name: "without the key the error names the variable",
        input: { query: "nimbus" },
        expect: { checks: [{ path: "error", op: "contains", value: "TAVILY_API_KEY" }] },
      },
      { name: "a missing query is invalid input", input: {}, expect: { outcome: "INVALID_INPUT" } },
    ],
    permissions: { network: [variant.tavilyHost], secrets: ["TAVILY_API_KEY"] },
    notes: "POSTs to the search API with the granted key; permission refusals propagate.",
  };
}

const PLAN = {
  required_tool_names: [],
  tool_usage_guidance:
    "1. Call search_web with a focused query. 2. Answer from the result snippets, citing URLs.",
  tool_requests: [
    {
      name: TOOL,
      description:
        "Searches the web for a query and returns the top results with title, URL and a text snippet.",
      input_schema: {
        type: "object",
        properties: {
          query: { type: "string", description: "What to search for." },
          max_results: {
            type: "integer",
            minimum: 1,
            maximum: 10,
            description: "Results wanted (default 5).",
          },
        },
        required: ["query"],
      },
      output_schema: {
        type: "object",
        properties: {
          query: { type: "string" },
          results: {
            type: "array",
            items: {
              type: "object",
              properties: { title: { type: "string" }, url: { type: "string" }, snippet: { type: "string" } },
            },
          },
          error: { type: "string" },
        },
      },
    },
  ],
};

/** The executor's report, written from the latest search_web result in the conversation. */
function executorReport(body: GeminiBody): string {
  const responses = (body.contents ?? [])
    .flatMap((content) => content.parts)
    .map((part) => part.functionResponse)
    .filter((response) => response?.name === TOOL);
  const latest = responses.at(-1)?.response as
    | { results?: { title: string; url: string; snippet: string }[]; error?: unknown }
    | undefined;
  const hits = latest?.results ?? [];
  if (hits.length > 0) {
    const top = hits[0] as { title: string; url: string; snippet: string };
    return [
      "## Reasoning & Plan",
      "Searched the web with search_web and read the top results.",
      "",
      "## Key Findings & Evidence",
      ...hits.map((hit) => `- ${hit.title} (${hit.url}): ${hit.snippet}`),
      "",
      "## Final Conclusion",
      top.snippet,
    ].join("\n");
  }
  const error = JSON.stringify(latest?.error ?? "no result").slice(0, 600);
  return [
    "## Reasoning & Plan",
    "Tried to search the web with search_web.",
    "",
    "## Key Findings & Evidence",
    `- search_web failed: ${error}`,
    "",
    "## Final Conclusion",
    "Not found: the web search could not run, so there is no evidence for an answer.",
  ].join("\n");
}

function integratorAnswer(prompt: string) {
  const report = prompt.slice(prompt.lastIndexOf("## Executor report"));
  const conclusion = report.split("## Final Conclusion")[1]?.trim() ?? "";
  const codename = /codename is ([A-Za-z0-9-]+)/.exec(conclusion)?.[1];
  return codename
    ? {
        final_answer: codename,
        reasoning_summary: `search_web found the announcement: "${conclusion.slice(0, 300)}"`,
      }
    : {
        final_answer: "Not found",
        reasoning_summary: `The search gave no evidence: ${conclusion.slice(0, 300)}`,
      };
}

function answerGemini(request: StandInRequest): StandInReply {
  // Other processes on this machine may probe a port they once knew (e.g. another stack's /readyz).
  if (!request.path.includes("/models/"))
    return { status: 404, json: { error: { code: 404, message: "Not found" } } };
  const apiKey = request.headers["x-goog-api-key"] as string | undefined;
  const variant = [...variants.values()].find((candidate) => candidate.geminiKey === apiKey);
  if (!variant) {
    seen.push({ variant: "?", role: "?", kind: "?", path: request.path, apiKey });
    return {
      status: 400,
      json: {
        error: {
          code: 400,
          message: "API key not valid. Please pass a valid API key.",
          status: "INVALID_ARGUMENT",
        },
      },
    };
  }
  if (request.path.endsWith(":batchEmbedContents")) {
    seen.push({ variant: variant.label, role: "embedding", kind: "embed", path: request.path, apiKey });
    const body = request.body as {
      requests: { content: { parts: { text: string }[] }; outputDimensionality?: number }[];
    };
    return {
      json: {
        embeddings: body.requests.map((item) => ({
          values: hashingVector(
            item.content.parts.map((part) => part.text).join(" "),
            item.outputDimensionality ?? 768,
          ),
        })),
      },
    };
  }
  if (!request.path.endsWith(":generateContent"))
    return badRequest(`the stand-in does not serve ${request.path}`);
  const body = request.body as GeminiBody;
  const system = textOf(body.systemInstruction?.parts ?? []);
  const role = roleOf(system);
  const contents = body.contents ?? [];
  const last = contents.at(-1);
  const lastText = last ? textOf(last.parts) : "";
  const promptChars = JSON.stringify(body).length;
  const record = (kind: string) =>
    seen.push({ variant: variant.label, role, kind, path: request.path, apiKey });
  const json = (value: unknown) => ({ json: geminiText(JSON.stringify(value), promptChars) });

  switch (role) {
    case "manager":
      if (system.includes("judging")) {
        record("judge");
        return json({
          status: "FINISH",
          reason: "The report's conclusion rests on the search result it cites.",
        });
      }
      record("plan");
      if (!lastText.includes("Tool Request Protocol")) return badRequest("manager: not a planning prompt");
      return json(PLAN);
    case "tool-developer":
      record(
        contents.some((content) => textOf(content.parts).includes("repairing a tool")) ? "repair" : "build",
      );
      if (!contents.some((content) => textOf(content.parts).includes(TOOL)))
        return badRequest(`tool-developer: asked for something other than ${TOOL}`);
      // Builds and repairs alike: the same module (a repair cannot change the operator's policy).
      return json(toolDraft(variant));
    case "executor": {
      if (last?.role === "user" && lastText.includes("Work on it now")) {
        record("turn");
        const question = /Question: (.*)/.exec(lastText)?.[1] ?? "";
        const query = question
          .replace(/[?'"]/g, "")
          .replace(/^What is /i, "")
          .trim();
        return { json: geminiCall(TOOL, { query, max_results: 3 }, promptChars) };
      }
      record("report");
      return { json: geminiText(executorReport(body), promptChars) };
    }
    case "integrator":
      record("answer");
      return json(integratorAnswer(lastText));
    default:
      record("?");
      return badRequest(`unrecognised request (system: ${system.slice(0, 120)})`);
  }
}

// ---------------------------------------------------------------------------------------------

async function startVariant(label: Variant["label"]): Promise<void> {
  const codename = `HERON-${randomBytes(3).toString("hex").toUpperCase()}`;
  const tavilyKey = `tvly-e2e-${label}-${randomBytes(6).toString("hex")}`;
  const tavily = await startTavily(tavilyKey, codename);
  const variant: Variant = {
    label,
    geminiKey: `gemini-e2e-${label}-${randomBytes(6).toString("hex")}`,
    tavilyKey,
    tavily,
    tavilyHost: new URL(tavily.url).host,
    codename,
    question: "What is the new codename of the Nimbus project?",
  };
  variants.set(label, variant);
  const sandboxPolicy =
    label === "granted"
      ? // The key is bound to the search host: a tool that could also reach elsewhere would not get it.
        {
          SANDBOX_INTERNAL_HOSTS: variant.tavilyHost,
          SANDBOX_SECRETS: `TAVILY_API_KEY@${variant.tavilyHost}`,
        }
      : { SANDBOX_INTERNAL_HOSTS: "", SANDBOX_SECRETS: "TAVILY_API_KEY" };
  const stack = await startStack({
    services: SERVICES,
    env: {
      LOG_LEVEL: "warn",
      // Exactly what a user sets: the models config file and the key it names.
      INSITU_MODELS_CONFIG: join(configDir, "insitu.models.json"),
      GEMINI_API_KEY: variant.geminiKey,
      // The operator approved this key for model-written tools in advance (secrets go to review
      // by default, docs/adr/0130); the review flow itself is test/security/approval-policy.test.ts.
      INSITU_APPROVAL_POLICY: JSON.stringify({
        rules: [{ permission: "secret:TAVILY_API_KEY", decision: "auto" }],
      }),
    },
    serviceEnv: { sandbox: { ...sandboxPolicy, TAVILY_API_KEY: tavilyKey } },
    onUnexpectedExit: (service, code, signal) =>
      logs.push(`[${label} ${service}] exited unexpectedly (code ${code}, signal ${signal})`),
    onLog: (service, line) => {
      if (service !== "nats") logs.push(`[${label} ${service}] ${line.slice(0, 2000)}`);
      if (process.env.E2E_LOGS) process.stdout.write(`[${label} ${service}] ${line}\n`);
    },
  });
  const bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: `e2e-real-${label}` });
  stacks[label] = { stack, bus };
}

beforeAll(async () => {
  expect(process.env.INSITU_SCRIPT, "the services must not inherit a scripted model").toBeUndefined();
  gemini = await startStandInServer(answerGemini);
  configDir = mkdtempSync(join(tmpdir(), "insitu-real-provider-"));
  writeFileSync(
    join(configDir, "insitu.models.json"),
    JSON.stringify(
      {
        $comment:
          "Every role (and the registry's embeddings) on Gemini, at a local stand-in of its REST API.",
        default: {
          provider: "gemini",
          baseUrl: gemini.url,
          apiKeyEnv: "GEMINI_API_KEY",
          retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 200 },
        },
      },
      null,
      2,
    ),
  );
  await Promise.all([startVariant("granted"), startVariant("denied")]);
});

afterAll(async () => {
  await Promise.all(
    Object.values(stacks).map(async (entry) => {
      await entry?.bus.drain();
      await entry?.stack.stop();
    }),
  );
  await Promise.all([...variants.values()].map((variant) => variant.tavily.close()));
  await gemini?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

/** The task's end; when it does not end, the error says why (build failures, the stack's warnings). */
async function settle(task: FollowedTask, label: Variant["label"]): Promise<TaskRecord> {
  try {
    return await task.done;
  } catch (error) {
    const builds = eventsOf(task.events, "tool-build-end").map(
      (end) => `build ${end.ok ? "ok" : `failed: ${end.reason}`}`,
    );
    const warnings = logs.filter((line) => line.startsWith(`[${label} `)).slice(-30);
    const model = callsOf(label).map((call) => call.role);
    throw new Error(
      [String(error), ...builds, `model calls: ${model.join(", ")}`, "logs:", ...warnings]
        .join("\n")
        .slice(0, 20_000),
    );
  }
}

/** Requests to the search API (other processes on this machine may probe a recycled port). */
function searchesOf(variant: Variant): StandInRequest[] {
  return variant.tavily.requests.filter((request) => request.path === "/search");
}

function callsOf(label: Variant["label"]): SeenCall[] {
  return seen.filter((call) => call.variant === label);
}

function lookup(label: Variant["label"]) {
  const entry = stacks[label];
  const variant = variants.get(label);
  if (!entry || !variant) throw new Error(`stack ${label} did not start`);
  return { ...entry, variant };
}

describe("the real provider path (Gemini SDK → stand-in) with a web tool under the operator's policy", () => {
  it("granted: the tool searches with the granted key and the answer comes from the results", async () => {
    const { bus, variant } = lookup("granted");
    const task = await submitTask(bus, variant.question, { label: "real-granted", timeoutMs: 25_000 });
    const record = await settle(task, "granted");
    expect(record.status, JSON.stringify(record.error ?? {})).toBe("succeeded");
    // The codename exists only in the Tavily stand-in's reply: it travelled search → sandbox →
    // executor → manager → integrator.
    expect(record.answer?.final_answer).toBe(variant.codename);
    expect(record.toolsCreated).toEqual([TOOL]);
    expect(record.toolsUsed).toEqual([TOOL]);

    // Every role (and the registry's embedder) went through the Gemini SDK to the stand-in, with the key.
    const calls = callsOf("granted");
    for (const role of [...ROLES, "embedding"])
      expect(calls.filter((call) => call.role === role).length, `${role} calls`).toBeGreaterThan(0);
    expect(calls.every((call) => call.apiKey === variant.geminiKey)).toBe(true);
    expect(
      calls
        .filter((call) => call.role !== "embedding")
        .every((call) => call.path.endsWith(":generateContent")),
    ).toBe(true);
    expect(seen.filter((call) => call.role === "unknown" || call.variant === "?")).toEqual([]);
    expect(new Set(calls.map((call) => `${call.role}:${call.kind}`))).toEqual(
      new Set([
        "manager:plan",
        "tool-developer:build",
        "executor:turn",
        "executor:report",
        "manager:judge",
        "integrator:answer",
        "embedding:embed",
      ]),
    );
    expect(record.usage.inputTokens).toBeGreaterThan(0);

    // The tool reached the Tavily stand-in with the operator's key as a Bearer token.
    const searches = searchesOf(variant);
    expect(searches.length).toBeGreaterThanOrEqual(1);
    for (const request of searches) {
      expect(request.method).toBe("POST");
      expect(request.path).toBe("/search");
      expect(request.headers.authorization).toBe(`Bearer ${variant.tavilyKey}`);
      expect((request.body as { query: string }).query).toMatch(/nimbus/i);
    }
    const ends = eventsOf(task.events, "tool-call-end");
    expect(ends.map((end) => end.outcome)).toEqual(["success"]);
    expect(ends[0]?.output).toContain(variant.codename);

    // The tool that worked left the task's pool for the library, permissions and all.
    const inLibrary = await bus.request(RegistryGet, { by: "name", name: TOOL });
    expect(inLibrary.status).toBe("library");
    expect(inLibrary.manifest.permissions).toEqual({
      network: [variant.tavilyHost],
      secrets: ["TAVILY_API_KEY"],
    });
    expect(inLibrary.hash).toBe(eventsOf(task.events, "tool-build-end")[0]?.version);
  });

  it("denied: without the operator's grant of the host the call ends PERMISSION_DENIED naming it", async () => {
    const { bus, variant } = lookup("denied");
    const task = await submitTask(bus, variant.question, { label: "real-denied", timeoutMs: 25_000 });
    const record = await settle(task, "denied");
    // The round ends with a report that explains the refusal; the answer says nothing was found.
    expect(record.status, JSON.stringify(record.error ?? {})).toBe("succeeded");
    expect(record.answer?.final_answer).toBe("Not found");
    expect(record.toolsCreated).toEqual([TOOL]);

    const ends = eventsOf(task.events, "tool-call-end");
    expect(ends.length).toBeGreaterThanOrEqual(1);
    const denied = ends[0] as Extract<TaskEvent, { kind: "tool-call-end" }>;
    expect(denied.outcome).toBe("denied");
    expect(denied.output).toContain("PERMISSION_DENIED");
    expect(denied.output).toContain(variant.tavilyHost);

    // The registry recorded the call as denied; the tool never succeeded, so it stays out of the library.
    const stats = await bus.request(RegistryStats, { name: TOOL });
    expect(stats.tool?.byOutcome.denied).toBeGreaterThanOrEqual(1);
    expect(stats.tool?.successes).toBe(0);
    const lookupLibrary = bus.request(RegistryGet, { by: "name", name: TOOL });
    await expect(lookupLibrary).rejects.toMatchObject({ code: "NOT_FOUND" });

    // Nothing reached the search API, and the model calls still came through the SDK with the key.
    expect(searchesOf(variant)).toEqual([]);
    const calls = callsOf("denied");
    const kinds = new Set(calls.map((call) => `${call.role}:${call.kind}`));
    for (const kind of [
      "manager:plan",
      "tool-developer:build",
      "executor:turn",
      "executor:report",
      "manager:judge",
      "integrator:answer",
    ])
      expect(kinds, kind).toContain(kind);
    // The host is declared and the operator refused it: rewriting the tool cannot help, so the
    // executor asks for no repair.
    expect(kinds).not.toContain("tool-developer:repair");
    expect(calls.every((call) => call.apiKey === variant.geminiKey)).toBe(true);
  });
});
