import { type LanguageModel, type Usage, generateObject } from "@insitu/llm";
import { z } from "zod";
import { renderPrompt } from "./template.js";

export const VerdictSchema = z
  .object({
    status: z.enum(["FINISH", "RETRY"]),
    reason: z.string().min(1).max(4000),
  })
  .strict();
export type Verdict = z.infer<typeof VerdictSchema>;

export interface JudgeInput {
  taskId: string;
  question: string;
  round: number;
  maxRounds: number;
  tools: string[];
  toolCalls: { tool: string; outcome: string }[];
  report: string;
}

export function renderJudgePrompt(input: JudgeInput): string {
  const calls =
    input.toolCalls.length === 0
      ? "(no tool calls)"
      : input.toolCalls.map((call, index) => `${index + 1}. ${call.tool}: ${call.outcome}`).join("\n");
  return renderPrompt("judge", {
    question: input.question,
    round: input.round,
    maxRounds: input.maxRounds,
    tools: input.tools.length > 0 ? input.tools.join(", ") : "(none)",
    toolCalls: calls,
    report: input.report.trim() || "(empty report)",
  });
}

/** The FINISH / RETRY judgement after an executor round. */
export async function judgeRound(
  model: LanguageModel,
  input: JudgeInput,
  options: { signal?: AbortSignal } = {},
): Promise<{ verdict: Verdict; usage: Usage }> {
  const result = await generateObject(
    model,
    {
      system: "You are the Manager of insitu judging an Executor report. Reply with JSON only.",
      messages: [{ role: "user", content: renderJudgePrompt(input) }],
      taskId: input.taskId,
      signal: options.signal,
    },
    VerdictSchema,
  );
  return { verdict: result.object, usage: result.usage };
}
