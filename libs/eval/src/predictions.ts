/**
 * Reads a run's predictions: insitu's own `predictions.jsonl` (from `insitu batch`) or the
 * original system's (`{question_index, question, prediction}` where prediction is a JSON string
 * `{final_answer, reasoning_summary}`, an error object, or plain text). Ids are matched as the
 * original's evaluators did: `id`, `question_index`, `example_id` or `question_id`.
 */
import { extractJson } from "@insitu/llm";
import type { Prediction } from "./judges.js";
import { datasetError, isRecord, readRows } from "./rows.js";
import type { TaskFigures } from "./score.js";

export interface PredictionEntry {
  prediction: Prediction;
  figures: TaskFigures;
}

export async function readPredictions(path: string): Promise<Map<string, PredictionEntry>> {
  const rows = await readRows(path);
  const entries = new Map<string, PredictionEntry>();
  for (const row of rows) {
    const f = row.fields;
    const rawId = f.id ?? f.question_index ?? f.example_id ?? f.question_id;
    if (rawId === undefined || rawId === null || String(rawId) === "") {
      throw datasetError(
        `${path}:${row.line}: a prediction without an id (id, question_index, example_id or question_id)`,
        {
          path,
          line: row.line,
        },
      );
    }
    const id = String(rawId);
    // A later line for the same id wins (a resumed run appends).
    entries.set(id, { prediction: toPrediction(id, f), figures: toFigures(f) });
  }
  return entries;
}

function toPrediction(id: string, f: Record<string, unknown>): Prediction {
  const statusField = typeof f.status === "string" ? f.status : undefined;
  // insitu's own lines (they carry a status) hold the final answer itself: never parse it as JSON.
  const answer: ReadAnswer =
    statusField !== undefined && typeof f.prediction === "string"
      ? { finalAnswer: f.prediction }
      : readAnswer(f.prediction ?? f.answer_record);
  if (typeof f.reasoningSummary === "string" && answer.reasoningSummary === undefined) {
    answer.reasoningSummary = f.reasoningSummary;
  }
  const prediction: Prediction = { id, status: statusField ?? (answer.error ? "failed" : "completed") };
  if (answer.finalAnswer !== undefined) prediction.finalAnswer = answer.finalAnswer;
  if (answer.reasoningSummary !== undefined) prediction.reasoningSummary = answer.reasoningSummary;
  const confidence = answer.confidence ?? (typeof f.confidence === "number" ? f.confidence : undefined);
  if (confidence !== undefined && Number.isFinite(confidence))
    prediction.confidence = Math.min(100, Math.max(0, confidence));
  return prediction;
}

interface ReadAnswer {
  finalAnswer?: string;
  reasoningSummary?: string;
  confidence?: number;
  error?: boolean;
}

/** The answer inside a prediction field, in any of the shapes runs write. */
export function readAnswer(value: unknown): ReadAnswer {
  if (value === undefined || value === null) return {};
  if (typeof value === "string") {
    const trimmed = value.trim();
    if (trimmed === "" || trimmed === "['Error in the task']") return { error: trimmed !== "" };
    const parsed = extractJson(trimmed);
    if (parsed.ok && isRecord(parsed.value)) return readAnswer(parsed.value);
    const quoted = /"final_answer"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(trimmed)?.[1];
    if (quoted !== undefined) {
      try {
        return { finalAnswer: JSON.parse(`"${quoted}"`) as string };
      } catch {
        return { finalAnswer: quoted };
      }
    }
    return { finalAnswer: trimmed };
  }
  if (isRecord(value)) {
    if ("final_answer" in value) {
      const result: ReadAnswer = { finalAnswer: String(value.final_answer ?? "") };
      if (typeof value.reasoning_summary === "string") result.reasoningSummary = value.reasoning_summary;
      if (typeof value.confidence === "number") result.confidence = value.confidence;
      return result;
    }
    if ("error" in value) return { error: true };
  }
  return {};
}

function toFigures(f: Record<string, unknown>): TaskFigures {
  const figures: TaskFigures = {};
  const tokens = isRecord(f.tokens) ? f.tokens : isRecord(f.usage) ? f.usage : undefined;
  const input = num(tokens?.input ?? tokens?.inputTokens ?? f.inputTokens ?? f.input_tokens);
  const output = num(tokens?.output ?? tokens?.outputTokens ?? f.outputTokens ?? f.output_tokens);
  const cost = num(f.costUsd ?? f.cost ?? f.cost_usd ?? tokens?.costUsd);
  const wall = num(f.wallMs ?? f.wall_ms);
  const rounds = num(f.rounds);
  if (input !== undefined) figures.inputTokens = input;
  if (output !== undefined) figures.outputTokens = output;
  if (cost !== undefined) figures.costUsd = cost;
  if (wall !== undefined) figures.wallMs = wall;
  if (rounds !== undefined) figures.rounds = rounds;
  const created = f.toolsCreated ?? f.tools_created;
  if (Array.isArray(created)) figures.toolsCreated = created.length;
  else if (num(created) !== undefined) figures.toolsCreated = num(created) as number;
  return figures;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
