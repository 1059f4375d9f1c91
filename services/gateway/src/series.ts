import type { SeriesPoint } from "@insitu/contracts";
import { z } from "zod";

/** GET /v1/metrics/series query: batch size, most recent points, json (default) or csv. */
export const SeriesQuerySchema = z
  .object({
    batch: z.coerce.number().int().min(1).max(10_000).optional(),
    limit: z.coerce.number().int().min(1).max(5000).optional(),
    format: z.enum(["json", "csv"]).optional(),
  })
  .strict();
export type SeriesQuery = z.infer<typeof SeriesQuerySchema>;

/** The per-query-index series as CSV (one line per finished task), for spreadsheets and plots. */
export function seriesCsv(points: SeriesPoint[]): string {
  const header =
    "index,task_id,at,tool_calls,tools_admitted,versions_built,library_size,egl,success_rate,reuse_rate";
  const cell = (value: number | null) => (value === null ? "" : String(value));
  const lines = points.map((point) =>
    [
      point.index,
      // Task ids are validated ([A-Za-z0-9._-]); quoting keeps the column safe regardless.
      `"${point.taskId.replace(/"/g, '""')}"`,
      point.at,
      point.toolCalls,
      point.toolsAdmitted,
      point.versionsBuilt,
      point.librarySize,
      cell(point.egl),
      cell(point.successRate),
      cell(point.reuseRate),
    ].join(","),
  );
  return `${[header, ...lines].join("\n")}\n`;
}
