import { hashingVector } from "./scripted.js";
import { type StandInReply, type StandInServer, startStandInServer } from "./stand-in-server.js";

/**
 * A misbehaving Gemini (FAKE — for integration, e2e tests and benches): a stand-in speaking the
 * real REST wire format that answers each request according to a marker `[mb:<kind>-<id>]` found
 * in it (put it in the task's question), and keeps a ledger per marker: requests, when they
 * came, their body sizes, and the tokens it billed on replies it delivered in full.
 */
export const Misbehaviour = {
  /** 429 with Retry-After (header and RetryInfo body). */
  rateLimit: "ratelimit",
  /** 503 with Retry-After. */
  unavailable: "unavailable",
  /** After `slowMs`, a billed answer that is not JSON (so the caller asks again). */
  slow: "slow",
  /** 200 with an empty candidate, billed `heavyTokens` prompt tokens. */
  emptyHeavy: "emptyheavy",
  /** 200 with the prompt blocked for safety, billed. */
  blocked: "blocked",
  /** 200 with a `hugeBytes` invalid (never closed) JSON text. */
  huge: "huge",
  /** 200 with a complete-looking JSON plan cut at MAX_TOKENS. */
  truncated: "truncated",
} as const;
export type Misbehaviour = (typeof Misbehaviour)[keyof typeof Misbehaviour];

export interface MisbehavingOptions {
  retryAfterMs?: number;
  slowMs?: number;
  heavyTokens?: number;
  hugeBytes?: number;
}

export interface LedgerEntry {
  requests: number;
  /** Epoch ms each request arrived. */
  at: number[];
  /** Request body sizes (JSON text length). */
  bodyChars: number[];
  /** Prompt + output tokens of replies delivered in full. */
  servedTokens: number;
}

export interface MisbehavingGemini {
  url: string;
  server: StandInServer;
  ledger(key: string): LedgerEntry;
  keys(): string[];
  close(): Promise<void>;
}

const MARKER = /\[mb:([a-z]+)-([A-Za-z0-9_]+)\]/;

export function geminiAnswer(
  text: string,
  usage: { prompt: number; output: number },
  finishReason = "STOP",
): Record<string, unknown> {
  return {
    candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason, index: 0 }],
    usageMetadata: {
      promptTokenCount: usage.prompt,
      candidatesTokenCount: usage.output,
      totalTokenCount: usage.prompt + usage.output,
    },
    modelVersion: "gemini-misbehaving-stand-in",
  };
}

function billed(reply: StandInReply): number {
  if (!("json" in reply)) return "delayMs" in reply ? billed(reply.reply) : 0;
  if ((reply.status ?? 200) !== 200) return 0;
  const usage = (
    reply.json as { usageMetadata?: { promptTokenCount?: number; candidatesTokenCount?: number } }
  ).usageMetadata;
  return (usage?.promptTokenCount ?? 0) + (usage?.candidatesTokenCount ?? 0);
}

export function misbehavingReply(kind: string, options: MisbehavingOptions = {}): StandInReply {
  const retryAfterMs = options.retryAfterMs ?? 1000;
  const heavy = options.heavyTokens ?? 50_000;
  const retryBody = (code: number, status: string, message: string) => ({
    error: {
      code,
      message,
      status,
      details: [
        { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfterMs / 1000}s` },
      ],
    },
  });
  switch (kind) {
    case Misbehaviour.rateLimit:
      return {
        status: 429,
        headers: { "retry-after": String(Math.ceil(retryAfterMs / 1000)) },
        json: retryBody(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
      };
    case Misbehaviour.unavailable:
      return {
        status: 503,
        headers: { "retry-after": String(Math.ceil(retryAfterMs / 1000)) },
        json: retryBody(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
      };
    case Misbehaviour.slow:
      return {
        delayMs: options.slowMs ?? 8000,
        reply: { json: geminiAnswer("Let me think about this some more…", { prompt: heavy, output: 40 }) },
      };
    case Misbehaviour.emptyHeavy:
      return {
        json: {
          candidates: [{ content: { role: "model", parts: [] }, finishReason: "STOP", index: 0 }],
          usageMetadata: { promptTokenCount: heavy, candidatesTokenCount: 0, totalTokenCount: heavy },
        },
      };
    case Misbehaviour.blocked:
      return {
        json: {
          promptFeedback: { blockReason: "SAFETY", blockReasonMessage: "blocked by the stand-in" },
          usageMetadata: { promptTokenCount: heavy, totalTokenCount: heavy },
        },
      };
    case Misbehaviour.huge: {
      const size = options.hugeBytes ?? 3 * 1024 * 1024;
      const text = `{"required_tool_names": [], "tool_usage_guidance": "${"lorem ipsum ".repeat(Math.ceil(size / 12)).slice(0, size)}`;
      return { json: geminiAnswer(text, { prompt: 2000, output: Math.ceil(size / 4) }) };
    }
    case Misbehaviour.truncated:
      return {
        json: geminiAnswer(
          JSON.stringify({
            required_tool_names: [],
            tool_usage_guidance: "Answer directly.",
            tool_requests: [],
          }),
          { prompt: 2000, output: 8192 },
          "MAX_TOKENS",
        ),
      };
    default:
      return { status: 400, json: { error: { code: 400, message: `unknown misbehaviour ${kind}` } } };
  }
}

/** Starts the misbehaving stand-in; embedding requests are always answered (hashing vectors). */
export async function startMisbehavingGemini(options: MisbehavingOptions = {}): Promise<MisbehavingGemini> {
  const byIndex: { key: string; tokens: number }[] = [];
  const ledgers = new Map<string, { at: number[]; bodyChars: number[] }>();
  const server = await startStandInServer((request, index) => {
    if (request.path.endsWith(":batchEmbedContents")) {
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
    if (!request.path.includes("/models/"))
      return { status: 404, json: { error: { code: 404, message: "Not found" } } };
    const text = JSON.stringify(request.body ?? "");
    const match = MARKER.exec(text);
    const key = match ? `${match[1]}-${match[2]}` : "unmarked";
    let ledger = ledgers.get(key);
    if (!ledger) {
      ledger = { at: [], bodyChars: [] };
      ledgers.set(key, ledger);
    }
    ledger.at.push(Date.now());
    ledger.bodyChars.push(text.length);
    const reply = match?.[1]
      ? misbehavingReply(match[1], options)
      : ({
          status: 400,
          json: { error: { code: 400, message: "no [mb:kind-id] marker in the request" } },
        } as StandInReply);
    byIndex[index] = { key, tokens: billed(reply) };
    return reply;
  });
  return {
    url: server.url,
    server,
    keys: () => [...ledgers.keys()],
    ledger(key) {
      const ledger = ledgers.get(key) ?? { at: [], bodyChars: [] };
      let servedTokens = 0;
      byIndex.forEach((entry, index) => {
        if (entry?.key === key && server.served.has(index)) servedTokens += entry.tokens;
      });
      return {
        requests: ledger.at.length,
        at: [...ledger.at],
        bodyChars: [...ledger.bodyChars],
        servedTokens,
      };
    },
    close: () => server.close(),
  };
}
