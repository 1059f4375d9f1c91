import { createHash } from "node:crypto";
import { ErrorCategory, InsituError } from "@insitu/errors";

/** Largest questions file `insitu batch` reads. */
export const MAX_BATCH_FILE_BYTES = 50 * 1024 * 1024;
/** Largest question, in characters (the manager's own bound). */
export const MAX_QUESTION_CHARS = 50_000;
export const MAX_BATCH_ITEMS = 100_000;
/**
 * `insitu batch`'s default batch size (and concurrency): the original's 16. One replica of every
 * role runs that many tasks' work at once by default (ADR 0113).
 */
export const DEFAULT_BATCH_SIZE = 16;

/** One line of a questions file. Unknown fields are kept in `extra` and echoed in the output. */
export interface BatchItem {
  /** The item's id as written (numbers are kept as their text). */
  id: string;
  question: string;
  answer?: unknown;
  attachments?: unknown;
  extra: Record<string, unknown>;
  /** 1-based line in the file. */
  line: number;
}

function bad(line: number, message: string): InsituError {
  return new InsituError(`line ${line}: ${message}`, {
    code: "BATCH_INPUT_INVALID",
    category: ErrorCategory.user,
    details: { line },
  });
}

/**
 * Reads a JSONL questions file: one `{id, question, answer?, attachments?, …}` object per line,
 * blank lines ignored. Every problem is an error naming its line, found before anything runs.
 */
export function parseQuestions(text: string, options: { maxBytes?: number } = {}): BatchItem[] {
  const maxBytes = options.maxBytes ?? MAX_BATCH_FILE_BYTES;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) {
    throw new InsituError(`the questions file is ${bytes} bytes; at most ${maxBytes} are accepted`, {
      code: "BATCH_INPUT_TOO_LARGE",
      category: ErrorCategory.user,
      details: { bytes, maxBytes },
    });
  }
  const items: BatchItem[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    if (raw.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw bad(
        line,
        `not JSON (${error instanceof Error ? error.message : String(error)}); each line must be one JSON object`,
      );
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw bad(line, 'each line must be a JSON object like {"id": 1, "question": "…"}');
    }
    const { id, question, answer, attachments, ...extra } = value as Record<string, unknown>;
    if (typeof id !== "string" && typeof id !== "number") throw bad(line, 'needs an "id" (string or number)');
    const key = String(id);
    if (key.trim() === "" || key.length > 200) throw bad(line, "the id must be 1–200 characters");
    const first = seen.get(key);
    if (first !== undefined) throw bad(line, `duplicate id ${JSON.stringify(key)} (first on line ${first})`);
    seen.set(key, line);
    if (typeof question !== "string" || question.trim() === "")
      throw bad(line, 'the "question" is missing or empty');
    if (question.length > MAX_QUESTION_CHARS) {
      throw bad(line, `the question has ${question.length} characters; at most ${MAX_QUESTION_CHARS}`);
    }
    const item: BatchItem = { id: key, question, extra, line };
    if (answer !== undefined) item.answer = answer;
    if (attachments !== undefined) item.attachments = attachments;
    items.push(item);
    if (items.length > MAX_BATCH_ITEMS) throw bad(line, `more than ${MAX_BATCH_ITEMS} questions in one file`);
  }
  if (items.length === 0) {
    throw new InsituError("the questions file has no questions", {
      code: "BATCH_INPUT_INVALID",
      category: ErrorCategory.user,
    });
  }
  return items;
}

/**
 * The run id: the same file with the same run-shaping options is the same run, so re-running the
 * command after a kill resumes it instead of starting over.
 */
export function batchRunId(
  text: string,
  options: { batchSize: number; share: boolean; warmStart: string },
): string {
  return createHash("sha256")
    .update(JSON.stringify({ text, ...options }))
    .digest("hex")
    .slice(0, 12);
}

/** The task id of one item in one run: deterministic, so a re-run never submits an item twice. */
export function batchTaskId(runId: string, itemId: string): string {
  const safe = /^[A-Za-z0-9_-]{1,80}$/.test(itemId)
    ? itemId
    : createHash("sha256").update(itemId).digest("hex").slice(0, 24);
  return `b-${runId}-${safe}`;
}
