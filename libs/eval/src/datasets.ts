/**
 * Loaders for local copies of the benchmarks the original system reports on, in their published
 * shapes (../shared/FACTS-2.md §7), plus a plain JSONL of the user's own. Each turns rows into
 * {@link EvalItem}s: the question as sent to insitu, the reference answer, the judge that scores
 * it, and attachments (HLE images as data URIs). Bad input fails before anything runs, naming the
 * line.
 */
import { type Row, datasetError, readRows } from "./rows.js";

export const Benchmark = {
  hle: "hle",
  dsqa: "dsqa",
  finsearchcomp: "finsearchcomp",
  xbenchDeepsearch: "xbench-deepsearch",
  xbenchScienceqa: "xbench-scienceqa",
  jsonl: "jsonl",
} as const;
export type Benchmark = (typeof Benchmark)[keyof typeof Benchmark];
export const BENCHMARKS: readonly Benchmark[] = Object.values(Benchmark);

/** How an item is judged. FinSearchComp items carry their own judge prompts. */
export type JudgeSpec =
  | { kind: "hle" }
  | { kind: "dsqa"; answerType: string }
  | { kind: "xbench" }
  | { kind: "finsearchcomp"; systemPrompt: string; template: string }
  | { kind: "generic" };

export interface EvalAttachment {
  name: string;
  /** `data:<media type>;base64,<bytes>`, as HLE ships its images. */
  dataUri: string;
}

export interface EvalItem {
  id: string;
  /** The question exactly as insitu receives it. */
  question: string;
  /** Reference answer. */
  answer: string;
  /** Category for per-category accuracy (HLE category, DSQA problem_category, FSC label, xbench type). */
  category?: string;
  judge: JudgeSpec;
  attachments?: EvalAttachment[];
}

/** Loads a benchmark file; `.jsonl`, `.json`, `.csv` and `.parquet` are read by extension. */
export async function loadBenchmark(benchmark: Benchmark, path: string): Promise<EvalItem[]> {
  return itemsFromRows(benchmark, await readRows(path), path);
}

export function itemsFromRows(benchmark: Benchmark, rows: readonly Row[], path = "input"): EvalItem[] {
  const items: EvalItem[] = [];
  const seen = new Map<string, number>();
  rows.forEach((row, index) => {
    const item = toItem(benchmark, row, index, path);
    if (!item) return;
    const earlier = seen.get(item.id);
    if (earlier !== undefined) {
      throw datasetError(`${path}:${row.line}: duplicate id "${item.id}" (first on line ${earlier})`, {
        path,
        line: row.line,
      });
    }
    seen.set(item.id, row.line);
    items.push(item);
  });
  return items;
}

function toItem(benchmark: Benchmark, row: Row, index: number, path: string): EvalItem | undefined {
  const f = row.fields;
  const at = `${path}:${row.line}`;
  switch (benchmark) {
    case Benchmark.hle: {
      const id = required(f, "id", at);
      const image = optionalText(f.image);
      const item: EvalItem = {
        id,
        question: required(f, "question", at),
        answer: required(f, "answer", at),
        judge: { kind: "hle" },
      };
      const category = optionalText(f.category) ?? optionalText(f.raw_subject);
      if (category) item.category = category;
      if (image)
        item.attachments = [{ name: `${safeName(id)}.${imageExtension(image, at)}`, dataUri: image }];
      return item;
    }
    case Benchmark.dsqa: {
      const id = optionalText(f.example_id) ?? String(index);
      const item: EvalItem = {
        id,
        question: required(f, "problem", at),
        answer: required(f, "answer", at),
        judge: { kind: "dsqa", answerType: optionalText(f.answer_type) ?? "Single Answer" },
      };
      const category = optionalText(f.problem_category);
      if (category) item.category = category;
      return item;
    }
    case Benchmark.finsearchcomp: {
      const id = required(f, "prompt_id", at);
      const taskType = finSearchTaskType(f, id);
      if (taskType !== "T2" && taskType !== "T3") return undefined; // the original keeps T2/T3 only
      const item: EvalItem = {
        id,
        question: required(f, "prompt", at),
        answer: required(f, "response_reference", at),
        judge: {
          kind: "finsearchcomp",
          systemPrompt: optionalText(f.judge_system_prompt) ?? "",
          template: required(f, "judge_prompt_template", at),
        },
      };
      const category = optionalText(f.label) ?? taskType;
      item.category = category;
      return item;
    }
    case Benchmark.xbenchDeepsearch:
    case Benchmark.xbenchScienceqa: {
      const id = optionalText(f.id) ?? optionalText(f.task_id);
      if (!id) throw datasetError(`${at}: missing "id" (or "task_id")`, { path, line: row.line });
      const canary = required(f, "canary", at);
      const item: EvalItem = {
        id,
        question: xbenchDecrypt(required(f, "prompt", at), canary, at),
        answer: xbenchDecrypt(required(f, "answer", at), canary, at),
        judge: { kind: "xbench" },
      };
      const category = optionalText(f.type);
      if (category) item.category = category;
      return item;
    }
    case Benchmark.jsonl: {
      const id = f.id === undefined ? undefined : String(f.id);
      if (!id) throw datasetError(`${at}: missing "id"`, { path, line: row.line });
      const item: EvalItem = {
        id,
        question: required(f, "question", at),
        answer: required(f, "answer", at),
        judge: { kind: "generic" },
      };
      const category = optionalText(f.category);
      if (category) item.category = category;
      return item;
    }
  }
}

/**
 * xbench ships prompt and answer encrypted: base64, then XOR with the row's canary string as a
 * repeating key (over its UTF-8 bytes). XOR is its own inverse, so this also encrypts.
 */
export function xbenchDecrypt(encoded: string, canary: string, at = "input"): string {
  const key = Buffer.from(canary, "utf8");
  if (key.length === 0) throw datasetError(`${at}: empty canary`);
  const bytes = Buffer.from(encoded, "base64");
  for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] ?? 0) ^ (key[i % key.length] ?? 0);
  return bytes.toString("utf8");
}

export function xbenchEncrypt(plain: string, canary: string): string {
  const key = Buffer.from(canary, "utf8");
  const bytes = Buffer.from(plain, "utf8");
  for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] ?? 0) ^ (key[i % key.length] ?? 0);
  return bytes.toString("base64");
}

function finSearchTaskType(fields: Record<string, unknown>, id: string): string | undefined {
  const explicit = optionalText(fields.task_type);
  if (explicit) return explicit.trim().toUpperCase();
  return /^\((T\d)\)/i.exec(id)?.[1]?.toUpperCase();
}

function required(fields: Record<string, unknown>, name: string, at: string): string {
  const value = fields[name];
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value : undefined;
  if (text === undefined || text.trim() === "")
    throw datasetError(`${at}: missing or empty "${name}"`, { field: name });
  return text;
}

function optionalText(value: unknown): string | undefined {
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

const IMAGE_TYPES: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/jpg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
};

function imageExtension(dataUri: string, at: string): string {
  const match = /^data:([a-z0-9.+/-]+);base64,/i.exec(dataUri);
  if (!match?.[1]) throw datasetError(`${at}: "image" is not a base64 data URI`);
  const extension = IMAGE_TYPES[match[1].toLowerCase()];
  if (!extension) throw datasetError(`${at}: unsupported image type ${match[1]}`);
  return extension;
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "image";
}
