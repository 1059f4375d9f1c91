import type { IncomingMessage } from "node:http";
import {
  type BatchItem,
  type BatchRunSettings,
  assertDataUris,
  attachmentSources,
  prepareBatchRun,
} from "@insitu/batch";
import { DEFAULT_LIMITS, parseBounded } from "@insitu/bus";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { z } from "zod";
import { GatewayErrorCode, invalidRequest } from "../errors.js";
import { readLimited } from "../http/body.js";
import { parseInput, queryObject } from "../validation.js";

/** A validated `POST /v1/batches`: nothing is stored or started until every line passed. */
export interface BatchSubmissionInput {
  runId: string;
  /** The questions as JSONL (what is stored and what the run id hashes). */
  text: string;
  items: BatchItem[];
  settings: BatchRunSettings;
}

const Settings = {
  batchSize: z.coerce.number().int().min(1).max(1000).optional(),
  concurrency: z.coerce.number().int().min(1).max(1000).optional(),
  /** `current` (default over HTTP: docs/adr/0110), `zero`, or a snapshot number. */
  warmStart: z
    .union([z.string(), z.number().int().min(0)])
    .transform(String)
    .pipe(z.string().regex(/^(zero|current|\d{1,12})$/, 'expected "zero", "current" or a snapshot number'))
    .optional(),
};

/** Options of a JSONL body, in the query string. */
export const BatchQuerySchema = z
  .object({
    ...Settings,
    shareWithinBatch: z.enum(["true", "false", "1", "0"]).optional(),
  })
  .strict();

/** A JSON body: the questions as `items` and the options beside them. */
export const BatchJsonBodySchema = z
  .object({
    items: z.array(z.unknown()).min(1, "items must not be empty"),
    ...Settings,
    shareWithinBatch: z.boolean().optional(),
  })
  .strict();

const JSONL = /^(?:application\/(?:x-ndjson|jsonl|x-jsonlines|jsonlines)|text\/plain)\b/i;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * Reads `POST /v1/batches`: JSONL (`application/x-ndjson`, `application/jsonl` or `text/plain`;
 * options in the query) or JSON `{items: [...], batchSize?, concurrency?, shareWithinBatch?,
 * warmStart?}`. Errors name the line (JSONL) or the item (`items[3]`), as `insitu batch` does.
 */
export async function readBatchBody(
  request: IncomingMessage,
  url: URL,
  limitBytes: number,
): Promise<BatchSubmissionInput> {
  const type = request.headers["content-type"] ?? "";
  const jsonl = JSONL.test(type);
  if (!jsonl && !JSON_TYPE.test(type)) {
    throw new InsituError(
      `expected Content-Type application/x-ndjson (one question per line) or application/json ({"items": [...]}), got ${type || "none"}`,
      { code: GatewayErrorCode.unsupportedMediaType, category: ErrorCategory.user },
    );
  }
  const bytes = await readLimited(request, limitBytes);
  if (bytes.length === 0) {
    throw invalidRequest("request body is empty; expected questions", [
      { path: "body", message: "required" },
    ]);
  }
  let text: string;
  let options: {
    batchSize?: number | undefined;
    concurrency?: number | undefined;
    warmStart?: string | undefined;
    shareWithinBatch?: boolean | undefined;
  };
  let label: (line: number) => string = (line) => `line ${line}`;
  if (jsonl) {
    const query = parseInput(BatchQuerySchema, queryObject(url.searchParams), "query");
    options = {
      ...query,
      shareWithinBatch:
        query.shareWithinBatch === undefined ? undefined : /^(true|1)$/.test(query.shareWithinBatch),
    };
    text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  } else {
    let value: unknown;
    try {
      value = parseBounded(bytes, { maxBytes: limitBytes, maxDepth: Math.min(DEFAULT_LIMITS.maxDepth, 32) });
    } catch (error) {
      const typed = InsituError.from(error);
      throw new InsituError(`request body is not acceptable JSON: ${typed.message}`, {
        code: typed.code,
        category: ErrorCategory.user,
        details: typed.details,
      });
    }
    const body = parseInput(BatchJsonBodySchema, value, "body");
    options = body;
    // One item per line, so the checks (and the run id) are exactly those of a JSONL file.
    text = `${body.items.map((item) => JSON.stringify(item) ?? "null").join("\n")}\n`;
    label = (line) => `items[${line - 1}]`;
  }
  const settings: BatchRunSettings = {
    batchSize: options.batchSize ?? 16,
    concurrency: options.concurrency ?? options.batchSize ?? 16,
    shareWithinBatch: options.shareWithinBatch ?? false,
    warmStart: options.warmStart ?? "current",
  };
  try {
    const checked = prepareBatchRun(text, settings, { maxBytes: limitBytes });
    // A client may send data URIs only: a path would make the server read its own files.
    for (const item of checked.items) assertDataUris(attachmentSources(item.attachments, item.id), item);
    // One canonical line per item (the lines are valid JSON now): the same questions are the same
    // run whether they came as JSONL or JSON, with or without blank lines and spacing.
    const canonical = `${text
      .split(/\r?\n/)
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.stringify(JSON.parse(line)))
      .join("\n")}\n`;
    const { runId, items } = prepareBatchRun(canonical, settings);
    return { runId, text: canonical, items, settings };
  } catch (error) {
    const typed = InsituError.from(error);
    const line = (typed.details as { line?: unknown } | undefined)?.line;
    if (typeof line !== "number" || jsonl) throw typed;
    throw new InsituError(typed.message.replace(/^line \d+:/, `${label(line)}:`), {
      code: typed.code,
      category: typed.category,
      details: { item: line - 1 },
    });
  }
}
