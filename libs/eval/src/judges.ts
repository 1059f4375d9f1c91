/**
 * Judges: each benchmark's scoring rule run through the model layer (any configured provider; the
 * judge is its own model role). The prompts here are our own wording of what each benchmark's judge
 * asks for; a user who has a benchmark's official judge prompt (under its own licence) passes it as
 * a file with the same placeholders, and the verdict is read the same way. FinSearchComp items carry
 * their own judge prompts, used as they are.
 */
import { createHash } from "node:crypto";
import { type LanguageModel, type Usage, emptyUsage, extractJson, generateObject } from "@insitu/llm";
import { z } from "zod";
import type { EvalItem, JudgeSpec } from "./datasets.js";

/** What the agent answered for one item (from predictions.jsonl). */
export interface Prediction {
  id: string;
  /** `completed`, `failed`, `budget-exceeded`, … — or `missing` when the run has no line for it. */
  status: string;
  finalAnswer?: string;
  reasoningSummary?: string;
  /** Stated confidence, 0–100. */
  confidence?: number;
}

export interface Verdict {
  correct: boolean;
  /** Why it is scored so without a judge call (`missing prediction`, `exact match`), if so. */
  shortcut?: string;
  extractedAnswer?: string;
  /** Confidence in [0, 1] for calibration (the prediction's own, else the judge's reading of it). */
  confidence?: number;
  /** DeepSearchQA: per expected part, found or not. */
  parts?: Record<string, boolean>;
  /** DeepSearchQA: answers given beyond the expected ones. */
  excessive?: string[];
  explanation?: string;
}

export interface JudgeOutcome {
  verdict: Verdict;
  usage: Usage;
}

/** Prompt text per judge kind a user may replace (placeholders: {{question}}, {{response}}, {{correct_answer}}, {{answer_type}}). */
export type JudgePrompts = Partial<Record<"hle" | "dsqa" | "xbench" | "generic", string>>;

export interface JudgeOptions {
  prompts?: JudgePrompts;
  signal?: AbortSignal;
}

/** The text the judge sees as the response (as the original fed HLE's judge). */
export function responseText(prediction: Prediction): string {
  const parts = [`Final Answer: ${prediction.finalAnswer ?? ""}`];
  if (prediction.reasoningSummary) parts.push(`Reasoning: ${prediction.reasoningSummary}`);
  if (prediction.confidence !== undefined) parts.push(`Confidence: ${prediction.confidence}%`);
  return parts.join("\n\n");
}

/** Scores one item. A prediction without a final answer is wrong without a judge call. */
export async function judgeItem(
  model: LanguageModel,
  item: EvalItem,
  prediction: Prediction,
  options: JudgeOptions = {},
): Promise<JudgeOutcome> {
  const ownConfidence =
    prediction.confidence === undefined ? undefined : clamp01(prediction.confidence / 100);
  if (!prediction.finalAnswer || prediction.finalAnswer.trim() === "") {
    const verdict: Verdict = { correct: false, shortcut: `no answer (${prediction.status})` };
    withOwnConfidence(verdict, ownConfidence);
    if (item.judge.kind === "dsqa") {
      verdict.parts = Object.fromEntries(expectedParts(item).map((part) => [part, false]));
      verdict.excessive = [];
    }
    return { verdict, usage: emptyUsage() };
  }
  const judge = item.judge;
  switch (judge.kind) {
    case "hle":
      return judgeHle(model, item, prediction, options, ownConfidence);
    case "dsqa":
      return judgeDsqa(model, item, prediction, judge.answerType, options, ownConfidence);
    case "xbench":
      return judgeXbench(model, item, prediction, options, ownConfidence);
    case "finsearchcomp":
      return judgeFinSearchComp(model, item, prediction, judge, options, ownConfidence);
    case "generic":
      return judgeGeneric(model, item, prediction, options, ownConfidence);
  }
}

const HLE_PROMPT = `Judge whether the following response to a question is correct, given the reference answer.

[question]: {{question}}

[response]: {{response}}

[correct_answer]: {{correct_answer}}

Reply with JSON:
- "extracted_final_answer": the final exact answer taken from the response; "None" if it has none.
- "reasoning": compare the extracted answer with the correct answer only. Do not solve the question again and do not argue for another answer; say only whether they match, allowing for equivalent forms and, for numbers, a small rounding margin.
- "correct": "yes" if the extracted answer matches the correct answer (or is within a small margin for numbers), otherwise "no".
- "confidence": the confidence score from 0 to 100 stated in the response; 100 if it states none.`;

const HleVerdict = z.object({
  extracted_final_answer: z.string(),
  reasoning: z.string(),
  correct: z.enum(["yes", "no"]),
  confidence: z.number().min(0).max(100),
});

async function judgeHle(
  model: LanguageModel,
  item: EvalItem,
  prediction: Prediction,
  options: JudgeOptions,
  ownConfidence: number | undefined,
): Promise<JudgeOutcome> {
  const prompt = fill(options.prompts?.hle ?? HLE_PROMPT, item, prediction);
  const { object, usage } = await generateObject(model, request(prompt, options), HleVerdict);
  return {
    verdict: {
      correct: object.correct === "yes",
      extractedAnswer: object.extracted_final_answer,
      confidence: ownConfidence ?? clamp01(object.confidence / 100),
      explanation: object.reasoning,
    },
    usage,
  };
}

const DSQA_PROMPT = `You grade an answer to a research question against the expected answer.

Question: {{question}}
Answer type: {{answer_type}} ("Set Answer" means the expected answer is a list of items that must all be given; "Single Answer" means one answer)
Expected answer: {{correct_answer}}

Response to grade:
{{response}}

For each expected part (each item of a set, or the single answer), say whether the response gives it (equivalent wording, spelling variants and obvious abbreviations count). List every answer the response gives that is not among the expected ones as an excessive answer.

Reply with JSON: {"Answer Correctness": {"Explanation": "...", "Correctness Details": {"<expected part>": true|false, ...}, "Excessive Answers": ["...", ...]}}`;

const DsqaVerdict = z.object({
  "Answer Correctness": z.object({
    Explanation: z.string(),
    "Correctness Details": z.record(z.string(), z.boolean()),
    "Excessive Answers": z.array(z.string()),
  }),
});

async function judgeDsqa(
  model: LanguageModel,
  item: EvalItem,
  prediction: Prediction,
  answerType: string,
  options: JudgeOptions,
  ownConfidence: number | undefined,
): Promise<JudgeOutcome> {
  const prompt = fill(options.prompts?.dsqa ?? DSQA_PROMPT, item, prediction, { answer_type: answerType });
  const { object, usage } = await generateObject(model, request(prompt, options), DsqaVerdict);
  const details = object["Answer Correctness"];
  const parts = details["Correctness Details"];
  const excessive = details["Excessive Answers"].filter((answer) => answer.trim() !== "");
  const verdict: Verdict = {
    correct: Object.values(parts).every(Boolean) && excessive.length === 0,
    parts,
    excessive,
    explanation: details.Explanation,
  };
  if (ownConfidence !== undefined) verdict.confidence = ownConfidence;
  return { verdict, usage };
}

/** Expected parts of a DSQA answer (a set answer is comma-separated), for scoring a missing prediction. */
export function expectedParts(item: EvalItem): string[] {
  if (item.judge.kind === "dsqa" && /set/i.test(item.judge.answerType)) {
    return item.answer
      .split(/[,;\n]/)
      .map((part) => part.trim())
      .filter(Boolean);
  }
  return [item.answer.trim()];
}

const XBENCH_PROMPT = `你是一个评分助手。请判断回答是否与正确答案一致。
You are a grader: decide whether the response matches the correct answer.

原问题 (question): {{question}}
正确答案 (correct answer): {{correct_answer}}
回答 (response): {{response}}

Compare only; do not solve the question again. Numbers within a small rounding margin count as equal.
Reply with exactly three lines:
最终答案: <the final answer extracted from the response, or 无 if there is none>
解释: <why it does or does not match>
结论: 正确 or 错误`;

/** Reads the xbench three-line verdict. */
export function parseXbenchVerdict(text: string): {
  correct: boolean;
  extracted?: string;
  explanation?: string;
} {
  const extracted = /最终答案\s*[:：]\s*(.*)/.exec(text)?.[1]?.trim();
  const explanation = /解释\s*[:：]\s*([\s\S]*?)(?:\n\s*结论|$)/.exec(text)?.[1]?.trim();
  const conclusion = /结论\s*[:：]\s*(正确|错误)/.exec(text)?.[1];
  const verdict: { correct: boolean; extracted?: string; explanation?: string } = {
    correct: conclusion === "正确",
  };
  if (extracted) verdict.extracted = extracted;
  if (explanation) verdict.explanation = explanation;
  return verdict;
}

async function judgeXbench(
  model: LanguageModel,
  item: EvalItem,
  prediction: Prediction,
  options: JudgeOptions,
  ownConfidence: number | undefined,
): Promise<JudgeOutcome> {
  // The original scores an exact match without a judge call.
  if (normalize(prediction.finalAnswer ?? "") === normalize(item.answer)) {
    const verdict: Verdict = {
      correct: true,
      shortcut: "exact match",
      extractedAnswer: prediction.finalAnswer ?? "",
    };
    withOwnConfidence(verdict, ownConfidence);
    return { verdict, usage: emptyUsage() };
  }
  const prompt = fill(options.prompts?.xbench ?? XBENCH_PROMPT, item, prediction);
  const result = await model.generate(request(prompt, options));
  const parsed = parseXbenchVerdict(result.text);
  const verdict: Verdict = { correct: parsed.correct };
  if (parsed.extracted) verdict.extractedAnswer = parsed.extracted;
  if (parsed.explanation) verdict.explanation = parsed.explanation;
  if (ownConfidence !== undefined) verdict.confidence = ownConfidence;
  return { verdict, usage: result.usage };
}

async function judgeFinSearchComp(
  model: LanguageModel,
  item: EvalItem,
  prediction: Prediction,
  judge: Extract<JudgeSpec, { kind: "finsearchcomp" }>,
  options: JudgeOptions,
  ownConfidence: number | undefined,
): Promise<JudgeOutcome> {
  const prompt = formatPythonTemplate(judge.template, {
    prompt: item.question,
    response_reference: item.answer,
    response: responseText(prediction),
  });
  const base = request(prompt, options);
  const result = await model.generate(judge.systemPrompt ? { ...base, system: judge.systemPrompt } : base);
  const score = parseAnswerScore(result.text);
  const verdict: Verdict = { correct: score === 1 };
  const explanation = result.text.split("【评分依据】")[1]?.trim();
  if (explanation) verdict.explanation = explanation.slice(0, 4000);
  if (ownConfidence !== undefined) verdict.confidence = ownConfidence;
  return { verdict, usage: result.usage };
}

/** `{"answer_score": N}` from a FinSearchComp judge reply (JSON anywhere in it, else the key by pattern). */
export function parseAnswerScore(text: string): number | undefined {
  const json = extractJson(text);
  if (json.ok && typeof json.value === "object" && json.value !== null && "answer_score" in json.value) {
    const score = Number((json.value as { answer_score: unknown }).answer_score);
    if (Number.isFinite(score)) return score;
  }
  const match = /"?answer_score"?\s*[:：]\s*(-?\d+(?:\.\d+)?)/.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Python `str.format` with named fields only (`{name}`; `{{` and `}}` are literal braces). */
export function formatPythonTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string | undefined) => {
    if (match === "{{") return "{";
    if (match === "}}") return "}";
    return name !== undefined && name in values ? (values[name] ?? "") : match;
  });
}

const GENERIC_PROMPT = `Decide whether a response answers a question correctly, given the reference answer.

Question: {{question}}
Reference answer: {{correct_answer}}
Response: {{response}}

Extract the response's final answer and compare it with the reference only (equivalent forms, units and small rounding differences count as equal; do not solve the question yourself).
Reply with JSON: {"extracted_answer": "...", "correct": true|false, "explanation": "..."}`;

const GenericVerdict = z.object({
  extracted_answer: z.string(),
  correct: z.boolean(),
  explanation: z.string(),
});

async function judgeGeneric(
  model: LanguageModel,
  item: EvalItem,
  prediction: Prediction,
  options: JudgeOptions,
  ownConfidence: number | undefined,
): Promise<JudgeOutcome> {
  const prompt = fill(options.prompts?.generic ?? GENERIC_PROMPT, item, prediction);
  const { object, usage } = await generateObject(model, request(prompt, options), GenericVerdict);
  const verdict: Verdict = {
    correct: object.correct,
    extractedAnswer: object.extracted_answer,
    explanation: object.explanation,
  };
  if (ownConfidence !== undefined) verdict.confidence = ownConfidence;
  return { verdict, usage };
}

function request(prompt: string, options: JudgeOptions) {
  return {
    system: "You are a strict, fair grader. Follow the output format exactly.",
    messages: [{ role: "user" as const, content: prompt }],
    temperature: 0,
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

function fill(
  template: string,
  item: EvalItem,
  prediction: Prediction,
  extra: Record<string, string> = {},
): string {
  const values: Record<string, string> = {
    question: item.question,
    response: responseText(prediction),
    correct_answer: item.answer,
    ...extra,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (match, name: string) => values[name] ?? match);
}

/** The prediction's own stated confidence, when it has one, is what calibration uses. */
function withOwnConfidence(verdict: Verdict, ownConfidence: number | undefined): Verdict {
  if (ownConfidence !== undefined) verdict.confidence = ownConfidence;
  return verdict;
}

function normalize(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, " ");
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}

/** Cache key of one judgement: the item, its judge, the prompt in force and the prediction judged. */
export function judgementKey(item: EvalItem, prediction: Prediction, prompts: JudgePrompts = {}): string {
  const prompt =
    item.judge.kind === "finsearchcomp" ? item.judge.template : (prompts[item.judge.kind] ?? "default");
  return createHash("sha256")
    .update(
      JSON.stringify([
        item.id,
        item.answer,
        item.judge.kind,
        prompt,
        prediction.finalAnswer ?? null,
        prediction.reasoningSummary ?? null,
        prediction.confidence ?? null,
      ]),
    )
    .digest("hex")
    .slice(0, 32);
}
