import { TaskAnswerSchema, type TaskAnswer } from "@insitu/contracts";
import { type LanguageModel, type Usage, generateObject } from "@insitu/llm";
import { renderPrompt } from "./template.js";

export function renderAnswerPrompt(question: string, report: string): string {
  return renderPrompt("answer", { question, report: report.trim() || "(the executor produced no report)" });
}

/** One structured call: `{final_answer, reasoning_summary}` in the format the question asks for. */
export async function integrate(
  model: LanguageModel,
  input: { taskId: string; question: string; report: string; signal?: AbortSignal },
): Promise<{ answer: TaskAnswer; usage: Usage }> {
  const result = await generateObject(
    model,
    {
      system: "You are the Integrator of insitu. Reply with JSON only.",
      messages: [{ role: "user", content: renderAnswerPrompt(input.question, input.report) }],
      taskId: input.taskId,
      signal: input.signal,
    },
    TaskAnswerSchema,
  );
  return { answer: result.object, usage: result.usage };
}
