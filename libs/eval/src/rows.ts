import { readFile, stat } from "node:fs/promises";
import { extname } from "node:path";
import { ErrorCategory, InsituError } from "@insitu/errors";

/** A dataset file larger than this is refused before reading (the largest benchmark file is ~300 MB of HLE images). */
export const MAX_DATASET_BYTES = 1024 * 1024 * 1024;

/** One row as read from a dataset file, with the 1-based line (JSONL, CSV) or row number it came from. */
export interface Row {
  line: number;
  fields: Record<string, unknown>;
}

export function datasetError(message: string, details: Record<string, string | number> = {}): InsituError {
  return new InsituError(message, { code: "EVAL_DATASET_INVALID", category: ErrorCategory.user, details });
}

/** Reads rows from `.jsonl`, `.json` (an array of objects), `.csv` or `.parquet`, by extension. */
export async function readRows(path: string): Promise<Row[]> {
  const info = await stat(path).catch((error: unknown) => {
    throw datasetError(`cannot read dataset file ${path}: ${(error as Error).message}`, { path });
  });
  if (info.size > MAX_DATASET_BYTES) {
    throw datasetError(`dataset file ${path} is ${info.size} bytes; the limit is ${MAX_DATASET_BYTES}`, {
      path,
    });
  }
  const extension = extname(path).toLowerCase();
  if (extension === ".parquet") return readParquet(path);
  const text = (await readFile(path, "utf8")).replace(/^\uFEFF/, "");
  if (extension === ".jsonl" || extension === ".ndjson") return parseJsonLines(text, path);
  if (extension === ".json") return parseJsonArray(text, path);
  if (extension === ".csv") return parseCsv(text, path);
  throw datasetError(
    `unsupported dataset file type "${extension}" (${path}); use .jsonl, .json, .csv or .parquet`,
    {
      path,
    },
  );
}

export function parseJsonLines(text: string, path = "input"): Row[] {
  const rows: Row[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const raw = (lines[index] ?? "").trim();
    if (raw === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw datasetError(`${path}:${index + 1}: not a JSON line (${(error as Error).message})`, {
        path,
        line: index + 1,
      });
    }
    if (!isRecord(value))
      throw datasetError(`${path}:${index + 1}: expected a JSON object`, { path, line: index + 1 });
    rows.push({ line: index + 1, fields: value });
  }
  return rows;
}

function parseJsonArray(text: string, path: string): Row[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw datasetError(`${path}: not JSON (${(error as Error).message})`, { path });
  }
  if (!Array.isArray(value)) throw datasetError(`${path}: expected a JSON array of objects`, { path });
  return value.map((fields, index) => {
    if (!isRecord(fields))
      throw datasetError(`${path}: item ${index + 1} is not an object`, { path, line: index + 1 });
    return { line: index + 1, fields };
  });
}

/** RFC 4180 CSV: quoted fields with "" escapes and newlines inside quotes; the first record is the header. */
export function parseCsv(text: string, path = "input"): Row[] {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell === "") quoted = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      cells.push(cell);
      if (cells.length > 1 || cells[0] !== "") records.push({ line: recordLine, cells });
      cells = [];
      cell = "";
      line++;
      recordLine = line;
    } else cell += c;
  }
  if (quoted)
    throw datasetError(`${path}:${recordLine}: unterminated quoted field`, { path, line: recordLine });
  if (cell !== "" || cells.length > 0) {
    cells.push(cell);
    records.push({ line: recordLine, cells });
  }
  const header = records.shift();
  if (!header) return [];
  const names = header.cells.map((name) => name.trim());
  return records.map(({ line: recordAt, cells: values }) => {
    if (values.length !== names.length) {
      throw datasetError(`${path}:${recordAt}: ${values.length} fields, the header has ${names.length}`, {
        path,
        line: recordAt,
      });
    }
    const fields: Record<string, unknown> = {};
    names.forEach((name, index) => {
      fields[name] = values[index];
    });
    return { line: recordAt, fields };
  });
}

async function readParquet(path: string): Promise<Row[]> {
  const { asyncBufferFromFile, parquetReadObjects } = await import("hyparquet");
  try {
    const file = await asyncBufferFromFile(path);
    const objects = await parquetReadObjects({ file });
    return objects.map((fields, index) => ({ line: index + 1, fields: fields as Record<string, unknown> }));
  } catch (error) {
    throw datasetError(`${path}: not a readable parquet file (${(error as Error).message})`, { path });
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
