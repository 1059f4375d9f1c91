/**
 * Labelled log lines for the local stack: `[manager] info  task accepted taskId=t1`. Services log
 * JSON lines (libs/telemetry); those are shortened for a human, anything else passes through.
 */
export interface LogFormatOptions {
  /** Pad labels to this width so columns line up. */
  labelWidth?: number;
  /** ANSI colours (only when writing to a terminal). */
  color?: boolean;
  /** Keep the raw JSON line instead of the short form. */
  raw?: boolean;
}

const COLORS = [36, 32, 33, 35, 34, 96, 92, 93, 95, 94];
const LEVEL_COLORS: Record<string, number> = { debug: 90, info: 0, warn: 33, error: 31 };
const HIDDEN_FIELDS = new Set(["time", "level", "service", "msg", "traceId", "spanId"]);
const MAX_FIELD_CHARS = 160;

export function colorFor(label: string): number {
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return COLORS[hash % COLORS.length] ?? 36;
}

export function formatLogLine(label: string, line: string, options: LogFormatOptions = {}): string {
  const paint = (code: number, text: string): string =>
    options.color && code ? `\u001b[${code}m${text}\u001b[0m` : text;
  const tag = paint(colorFor(label), `[${label}]`.padEnd((options.labelWidth ?? 0) + 2));
  const body = options.raw ? line : shorten(line, paint);
  return `${tag} ${body}`;
}

function shorten(line: string, paint: (code: number, text: string) => string): string {
  const trimmed = line.trimEnd();
  if (!trimmed.startsWith("{")) return trimmed;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return trimmed;
  const record = parsed as Record<string, unknown>;
  if (typeof record.msg !== "string") return trimmed;
  const level = typeof record.level === "string" ? record.level : "info";
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const levelText = paint(LEVEL_COLORS[level] ?? 0, level.padEnd(5));
  return [levelText, record.msg, ...fields].join(" ");
}

function fieldText(value: unknown): string {
  const text =
    typeof value === "string" ? (/\s/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value);
  const safe = text ?? String(value);
  return safe.length > MAX_FIELD_CHARS ? `${safe.slice(0, MAX_FIELD_CHARS - 1)}…` : safe;
}

/** Splits a byte stream into whole lines; returns the pending tail to prepend to the next chunk. */
export function splitLines(pending: string, chunk: string): { lines: string[]; rest: string } {
  const text = pending + chunk;
  const parts = text.split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.map((part) => part.replace(/\r$/, "")), rest };
}
