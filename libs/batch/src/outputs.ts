import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TaskRecord } from "@insitu/contracts";
import type { BatchItem } from "./input.js";
import { batchTaskId } from "./input.js";
import type { BatchRunState } from "./runner.js";

/** One line of `predictions.jsonl`: the item's own fields echoed, then what the run produced. */
export function predictionLine(
  runId: string,
  item: BatchItem,
  record: TaskRecord | undefined,
): Record<string, unknown> {
  const line: Record<string, unknown> = {
    ...item.extra,
    id: item.id,
    question: item.question,
    ...(item.answer === undefined ? {} : { answer: item.answer }),
    ...(item.attachments === undefined ? {} : { attachments: item.attachments }),
    taskId: batchTaskId(runId, item.id),
    prediction: record?.answer?.final_answer ?? null,
    ...(record?.answer?.reasoning_summary === undefined
      ? {}
      : { reasoningSummary: record.answer.reasoning_summary }),
    ...(record?.answer?.confidence === undefined ? {} : { confidence: record.answer.confidence }),
    status: record?.status ?? "missing",
    errorCode: record?.error?.code ?? null,
    rounds: record?.round ?? 0,
    tokens: record ? record.usage.inputTokens + record.usage.outputTokens : 0,
    inputTokens: record?.usage.inputTokens ?? 0,
    outputTokens: record?.usage.outputTokens ?? 0,
    ...(record?.finishedAt
      ? { wallMs: Math.max(0, Date.parse(record.finishedAt) - Date.parse(record.createdAt)) }
      : {}),
    costUsd: record?.usage.costUsd ?? 0,
    toolCalls: record?.usage.toolCalls ?? 0,
    toolsUsed: record?.toolsUsed ?? [],
    toolsCreated: record?.toolsCreated ?? [],
  };
  return line;
}

/** Writes predictions.jsonl, batches.jsonl and summary.md into `directory`. */
export async function writeBatchOutputs(
  directory: string,
  state: BatchRunState,
  items: BatchItem[],
  records: Map<string, TaskRecord>,
): Promise<{ predictions: string; batches: string; summary: string }> {
  await mkdir(directory, { recursive: true });
  const predictions = join(directory, "predictions.jsonl");
  const batches = join(directory, "batches.jsonl");
  const summary = join(directory, "summary.md");
  await writeFile(
    predictions,
    items.map((item) => JSON.stringify(predictionLine(state.runId, item, records.get(item.id)))).join("\n") +
      "\n",
  );
  await writeFile(
    batches,
    state.rows
      .map(({ barrier, ...row }) =>
        JSON.stringify({
          ...row,
          ...(barrier ? { barrierId: barrier.barrierId, groupsFound: barrier.groupsFound } : {}),
        }),
      )
      .join("\n") + "\n",
  );
  await writeFile(summary, summaryMarkdown(state, items, records));
  return { predictions, batches, summary };
}

export function summaryMarkdown(
  state: BatchRunState,
  items: BatchItem[],
  records: Map<string, TaskRecord>,
): string {
  const statuses = new Map<string, number>();
  for (const item of items) {
    const status = records.get(item.id)?.status ?? "missing";
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  const withAnswer = items.filter((item) => item.answer !== undefined);
  const exact = withAnswer.filter(
    (item) =>
      String(records.get(item.id)?.answer?.final_answer ?? "")
        .trim()
        .toLowerCase() === String(item.answer).trim().toLowerCase(),
  ).length;
  const rows = state.rows
    .map(
      (row) =>
        `| ${row.batch} | ${row.items} | ${row.succeeded} | ${row.created} | ${row.admitted} | ${row.merged} | ${row.rejectedMerges} | ${row.toolCalls} | ${row.egl.toFixed(3)} | ${row.eglCumulative.toFixed(3)} | ${row.librarySize} | ${row.tokens} | ${row.costUsd.toFixed(4)} | ${(row.wallMs / 1000).toFixed(1)} |`,
    )
    .join("\n");
  const rejected = state.rows.flatMap((row) =>
    row.rejected.map(
      (entry) => `- batch ${row.batch}: ${entry.members.join(" + ")} (${entry.stage}): ${entry.reason}`,
    ),
  );
  const wall = state.rows.reduce((sum, row) => sum + row.wallMs, 0);
  return `# Batch run ${state.runId}

${items.length} questions in ${state.rows.length} batch(es) of up to ${state.batchSize}; library ${state.share ? "shared within a batch" : "isolated within a batch (tools admitted at each barrier)"}; warm start: ${state.warmStart}.

- Status: ${[...statuses].map(([status, count]) => `${status} ${count}`).join(", ")}
${withAnswer.length > 0 ? `- Exact-match with the given answers: ${exact}/${withAnswer.length} (a judge is not applied here)\n` : ""}- Wall time over the batches: ${(wall / 1000).toFixed(1)} s
- Library size at the end: ${state.rows.at(-1)?.librarySize ?? 0}

| batch | items | succeeded | created | admitted | merged | rejected merges | tool calls | EGL | EGL cumulative | library | tokens | cost USD | wall s |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${rows}

${rejected.length > 0 ? `## Merges not made\n\n${rejected.join("\n")}\n` : ""}`;
}
