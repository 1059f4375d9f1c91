import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Spread, formatInterval, spread } from "./metrics.js";
import { barChart, lineChart } from "./plots.js";
import { type PngRenderer, pngRenderer } from "./png.js";
import type { BatchPoint, RunMetrics, ScoredItem } from "./score.js";

export interface RunReport {
  metrics: RunMetrics;
  scored: readonly ScoredItem[];
  batches: readonly BatchPoint[];
}

export interface ReportInput {
  benchmark: string;
  dataset: string;
  judge: { provider: string; model: string };
  /** Protocol settings as the user gave them (batch size, start, seed, sample …). */
  protocol: Record<string, string | number | boolean | null>;
  runs: readonly RunReport[];
}

export interface ReportSummary {
  accuracy: Spread | null;
  coverage: Spread | null;
  calibrationError: Spread | null;
  costPerQuery: Spread | null;
}

export const REPORT_FILES = {
  markdown: "report.md",
  metrics: "metrics.json",
  results: "results.csv",
  convergence: "convergence.csv",
  plots: ["accuracy-by-category.svg", "library-size.svg", "egl.svg", "cost-per-query.svg"],
} as const;

export interface WriteReportOptions {
  /** SVG → PNG; default resvg with a system font. `null` writes SVG only (no warning). */
  png?: PngRenderer | null;
  env?: Record<string, string | undefined>;
}

export interface WrittenReport extends ReportSummary {
  /** PNG files written beside the SVGs (relative to the report dir). */
  pngs: string[];
  /** Why something optional (the PNGs) was not written; the report itself is complete. */
  warnings: string[];
}

/** Writes report.md, metrics.json, results.csv, convergence.csv and the plots under `dir`. */
export async function writeReport(
  dir: string,
  input: ReportInput,
  options: WriteReportOptions = {},
): Promise<WrittenReport> {
  await mkdir(join(dir, "plots"), { recursive: true });
  const summary = summarize(input.runs);
  await writeFile(
    join(dir, REPORT_FILES.metrics),
    `${JSON.stringify({ benchmark: input.benchmark, dataset: input.dataset, judge: input.judge, protocol: input.protocol, summary, runs: input.runs.map((r) => ({ metrics: r.metrics, batches: r.batches })) }, null, 2)}\n`,
  );
  await writeFile(join(dir, REPORT_FILES.results), resultsCsv(input.runs));
  await writeFile(join(dir, REPORT_FILES.convergence), convergenceCsv(input.runs));
  const plots = renderPlots(input.runs);
  for (const [name, svg] of Object.entries(plots)) await writeFile(join(dir, "plots", name), svg);
  const warnings: string[] = [];
  const pngs: string[] = [];
  let render: PngRenderer | null | undefined = options.png;
  if (render === undefined) {
    const made = await pngRenderer(options.env ? { env: options.env } : {});
    if ("render" in made) render = made.render;
    else warnings.push(made.warning);
  }
  if (render) {
    for (const [name, svg] of Object.entries(plots)) {
      const png = `plots/${name.replace(/\.svg$/, ".png")}`;
      try {
        await writeFile(join(dir, png), render(svg));
        pngs.push(png);
      } catch (error) {
        warnings.push(`${png} not written: ${(error as Error).message}; the SVG is there`);
      }
    }
  }
  await writeFile(join(dir, REPORT_FILES.markdown), markdown(input, summary, pngs));
  return { ...summary, pngs, warnings };
}

export function summarize(runs: readonly RunReport[]): ReportSummary {
  const pick = (f: (m: RunMetrics) => number | null) =>
    spread(runs.map((r) => f(r.metrics)).filter((v): v is number => v !== null));
  return {
    accuracy: pick((m) => m.accuracy.accuracy),
    coverage: pick((m) => m.coverage),
    calibrationError: pick((m) => m.calibrationError),
    costPerQuery: pick((m) => m.perQuery.costUsd),
  };
}

export function renderPlots(runs: readonly RunReport[]): Record<string, string> {
  const last = runs[runs.length - 1];
  const categories = last ? Object.entries(last.metrics.byCategory) : [];
  return {
    "accuracy-by-category.svg": barChart({
      title: `Accuracy by category${runs.length > 1 ? " (last run)" : ""}, 95% Wilson interval`,
      yLabel: "accuracy (%)",
      yMax: 100,
      data: categories.map(([name, p]) => ({
        label: name,
        value: p.accuracy ?? 0,
        ...(p.wilson ? { low: p.wilson.low, high: p.wilson.high } : {}),
        note: `${p.correct}/${p.total}`,
      })),
    }),
    "library-size.svg": lineChart({
      title: "Tool library size vs queries",
      xLabel: "queries",
      yLabel: "tools in the library",
      series: runs.map((r, i) => ({
        name: `run ${i + 1}`,
        points: r.batches.map((b) => [b.queries, b.librarySize] as const),
      })),
    }),
    "egl.svg": lineChart({
      title: "EGL (tools admitted ÷ tool calls) vs queries",
      xLabel: "queries",
      yLabel: "EGL",
      series: runs.map((r, i) => ({
        name: `run ${i + 1}`,
        points: r.batches.filter((b) => b.egl !== null).map((b) => [b.queries, b.egl ?? 0] as const),
      })),
    }),
    "cost-per-query.svg": lineChart({
      title: "Cost per query (USD), in dataset order",
      xLabel: "query",
      yLabel: "USD",
      series: runs.map((r, i) => ({
        name: `run ${i + 1}`,
        points: r.scored
          .map((s, index) => [index + 1, s.figures.costUsd] as const)
          .filter((p): p is readonly [number, number] => p[1] !== undefined),
      })),
    }),
  };
}

function markdown(input: ReportInput, summary: ReportSummary, pngs: readonly string[]): string {
  const lines: string[] = [];
  const runs = input.runs;
  lines.push(`# insitu eval — ${input.benchmark}`, "");
  lines.push(
    `Dataset: \`${input.dataset}\` · judge: ${input.judge.provider}/${input.judge.model} · runs: ${runs.length}`,
  );
  const protocol = Object.entries(input.protocol)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  if (protocol) lines.push(`Protocol: ${protocol}`);
  lines.push(
    "",
    "Every dataset item is in the denominator: a missing or failed prediction counts as wrong; coverage says how many were answered.",
    "",
  );
  lines.push(
    "| run | items | answered | coverage | accuracy ± 95% (Wald) | Wilson 95% | calibration error | P / R / F1 | tokens in/out per query | cost per query | wall per query |",
  );
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|");
  runs.forEach((run, i) => {
    const m = run.metrics;
    lines.push(
      `| ${i + 1} | ${m.items} | ${m.answered} | ${pct(m.coverage)} | ${formatInterval(m.accuracy.wald)} (${m.accuracy.correct}/${m.accuracy.total}) | ${m.accuracy.wilson ? `${m.accuracy.wilson.low.toFixed(2)}–${m.accuracy.wilson.high.toFixed(2)}` : "n/a"} | ${m.calibrationError === null ? "n/a" : `${m.calibrationError.toFixed(2)} (${m.calibratedItems} items)`} | ${m.partScores ? `${m.partScores.precision.toFixed(1)} / ${m.partScores.recall.toFixed(1)} / ${m.partScores.f1.toFixed(1)}` : "—"} | ${num(m.perQuery.inputTokens)} / ${num(m.perQuery.outputTokens)} | ${usd(m.perQuery.costUsd)} | ${m.perQuery.wallMs === null ? "n/a" : `${(m.perQuery.wallMs / 1000).toFixed(1)} s`} |`,
    );
  });
  if (runs.length > 1 && summary.accuracy) {
    const a = summary.accuracy;
    lines.push(
      "",
      `Across ${a.runs} runs: accuracy ${a.mean.toFixed(2)} ± ${a.sd.toFixed(2)} (sd; min ${a.min.toFixed(2)}, max ${a.max.toFixed(2)}).`,
    );
  }
  const last = runs[runs.length - 1];
  if (last) {
    lines.push(
      "",
      "## Accuracy by category",
      "",
      "| category | correct | accuracy ± 95% (Wald) | Wilson 95% |",
      "|---|---|---|---|",
    );
    for (const [name, p] of Object.entries(last.metrics.byCategory)) {
      lines.push(
        `| ${escapeCell(name)} | ${p.correct}/${p.total} | ${formatInterval(p.wald)} | ${p.wilson ? `${p.wilson.low.toFixed(2)}–${p.wilson.high.toFixed(2)}` : "n/a"} |`,
      );
    }
    if (last.batches.length > 0) {
      lines.push("", "## Convergence", "", "| batch | queries | library size | EGL |", "|---|---|---|---|");
      for (const b of last.batches) {
        lines.push(
          `| ${b.batch} | ${b.queries} | ${b.librarySize} | ${b.egl === null ? "n/a" : b.egl.toFixed(4)} |`,
        );
      }
    }
  }
  lines.push("", "## Plots", "");
  for (const name of REPORT_FILES.plots) lines.push(`![${name.replace(/\.svg$/, "")}](plots/${name})`, "");
  if (pngs.length > 0) lines.push(`PNG copies beside them: ${pngs.map((p) => `\`${p}\``).join(", ")}.`, "");
  lines.push(
    "Files: `metrics.json` (every figure), `results.csv` (one row per item and run), `convergence.csv` (one row per batch and run), `judged.jsonl` per run (cached verdicts; re-running resumes).",
    "",
  );
  return `${lines.join("\n")}\n`;
}

function resultsCsv(runs: readonly RunReport[]): string {
  const header = [
    "run",
    "id",
    "category",
    "status",
    "correct",
    "extracted_answer",
    "final_answer",
    "confidence",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "wall_ms",
    "rounds",
    "tools_created",
  ];
  const rows = [header.join(",")];
  runs.forEach((run, i) => {
    for (const s of run.scored) {
      rows.push(
        [
          i + 1,
          s.item.id,
          s.item.category ?? "",
          s.prediction.status,
          s.verdict.correct,
          s.verdict.extractedAnswer ?? "",
          s.prediction.finalAnswer ?? "",
          s.verdict.confidence ?? "",
          s.figures.inputTokens ?? "",
          s.figures.outputTokens ?? "",
          s.figures.costUsd ?? "",
          s.figures.wallMs ?? "",
          s.figures.rounds ?? "",
          s.figures.toolsCreated ?? "",
        ]
          .map(csvCell)
          .join(","),
      );
    }
  });
  return `${rows.join("\n")}\n`;
}

function convergenceCsv(runs: readonly RunReport[]): string {
  const rows = ["run,batch,queries,library_size,egl,cost_usd"];
  runs.forEach((run, i) => {
    for (const b of run.batches)
      rows.push(
        [i + 1, b.batch, b.queries, b.librarySize, b.egl ?? "", b.costUsd ?? ""].map(csvCell).join(","),
      );
  });
  return `${rows.join("\n")}\n`;
}

export function csvCell(value: unknown): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function pct(value: number | null): string {
  return value === null ? "n/a" : `${value.toFixed(1)}%`;
}

function num(value: number | null): string {
  return value === null ? "n/a" : Math.round(value).toLocaleString("en-US");
}

function usd(value: number | null): string {
  return value === null ? "n/a" : `$${value.toFixed(4)}`;
}
