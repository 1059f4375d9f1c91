import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { connectBus } from "@insitu/bus";
import type { TaskRecord } from "@insitu/contracts";
import { isInsituError } from "@insitu/errors";
import { z } from "zod";
import { GatewayClient } from "../client/gateway-client.js";
import { formatUsd } from "../client/progress.js";
import { type CliIo, ExitCode, natsInstallHint } from "../io.js";
import { formatLogLine } from "../stack/log-format.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { type Stack, startStack } from "../stack/stack.js";
import { readStackState } from "../stack/state.js";
import { resolveTargets } from "../targets.js";
import { askThroughGateway } from "./ask.js";
import { copyLibrary } from "./library.js";

/**
 * A demo manifest: the scenario file that scripts every role's model, and the questions to ask in
 * order (the second needs the capability the first one built, so the tool is reused).
 */
export const DemoManifestSchema = z
  .object({
    description: z.string().optional(),
    /** Scenario file (libs/llm format), relative to this manifest. */
    scenario: z.string().min(1),
    questions: z.array(z.string().min(1)).min(1).max(10),
  })
  .strict();
export type DemoManifest = z.infer<typeof DemoManifestSchema>;

/** Where the demo manifest is looked for, first match wins. */
export const DEMO_MANIFEST_CANDIDATES = ["test/e2e/scenarios/demo/manifest.json"];

export function findDemoManifest(root: string, env: Record<string, string | undefined>): string | undefined {
  if (env.INSITU_DEMO) return resolve(env.INSITU_DEMO);
  return DEMO_MANIFEST_CANDIDATES.map((candidate) => join(root, candidate)).find((path) => existsSync(path));
}

export function loadDemoManifest(path: string): DemoManifest & { scenarioPath: string } {
  const parsed = DemoManifestSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  const scenarioPath = isAbsolute(parsed.scenario)
    ? parsed.scenario
    : resolve(dirname(path), parsed.scenario);
  return { ...parsed, scenarioPath };
}

export interface DemoFigures {
  questions: {
    question: string;
    taskId?: string;
    status: string;
    toolsCreated: string[];
    toolsReused: string[];
    toolCalls: number;
  }[];
  toolsCreated: number;
  /** Tool versions the registry counts as created (new tools plus repaired versions); EGL's numerator. */
  versionsCreated: number | null;
  toolsReused: number;
  toolCalls: number;
  egl: number | null;
  librarySize: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** `insitu demo`: a throw-away stack, a scripted model, two questions, the figures. */
export async function runDemo(values: Record<string, unknown>, io: CliIo): Promise<number> {
  const root = findRepoRoot();
  const manifestPath = findDemoManifest(root, io.env);
  if (!manifestPath) {
    io.err(
      `No demo scenario found (looked for ${DEMO_MANIFEST_CANDIDATES.join(", ")}; or set INSITU_DEMO).\n`,
    );
    return ExitCode.notConfigured;
  }
  const manifest = loadDemoManifest(manifestPath);
  if (!existsSync(manifest.scenarioPath)) {
    io.err(`The demo's scenario file ${manifest.scenarioPath} does not exist.\n`);
    return ExitCode.notConfigured;
  }
  const json = values.json === true;
  // --keep: where the demo's library goes afterwards (the running local stack), checked up front.
  let keepTarget: { url: string; prefix: string } | undefined;
  if (values.keep === true) {
    const state = await readStackState(root);
    if (!state && typeof values.nats !== "string" && !io.env.NATS_URL) {
      io.err(
        "--keep copies the demo's tools into your local stack, and none is running: start it with `insitu up` first (or give --nats).\n",
      );
      return ExitCode.notConfigured;
    }
    const targets = resolveTargets(values, io.env, state);
    keepTarget = { url: targets.natsUrl, prefix: targets.prefix };
    try {
      await (await connectBus({ ...keepTarget, name: "insitu-cli-demo-check" })).drain();
    } catch (error) {
      io.err(
        `--keep: cannot reach the local stack's NATS at ${keepTarget.url} (${(error as Error).message})\n`,
      );
      return ExitCode.unreachable;
    }
  }
  const say = (text: string): void => {
    if (!json) io.out(text);
  };
  const bold = (text: string): string => (io.color ? `\u001b[1m${text}\u001b[0m` : text);
  say(
    [
      bold("insitu demo — the model's answers in this run are SCRIPTED."),
      `No model is called: every role reads its replies from ${relative(root, manifest.scenarioPath)}.`,
      "Everything else is real: NATS with JetStream, every service as its own process, tool code",
      "type-checked and run in the Deno sandbox, the registry storing and retrieving the tools.",
      manifest.description ? `\nScenario: ${manifest.description}` : "",
      "",
      "Starting a throw-away stack (temporary NATS data, free ports)…",
      "",
    ].join("\n"),
  );

  const verbose = values.verbose === true;
  let stack: Stack;
  const starting = new AbortController();
  const abortStart = (): void => starting.abort();
  process.once("SIGINT", abortStart);
  try {
    stack = await startStack({
      signal: starting.signal,
      root,
      env: { INSITU_SCRIPT: manifest.scenarioPath, LOG_LEVEL: verbose ? "info" : "warn" },
      onLog: (service, line) => {
        if (verbose && !json)
          io.out(`${formatLogLine(service, line, { labelWidth: 14, color: io.color })}\n`);
      },
    });
  } catch (error) {
    if (isInsituError(error, "INTERRUPTED")) return ExitCode.interrupted;
    if (isInsituError(error, "NATS_SERVER_MISSING")) {
      io.err(`nats-server is not installed — ${natsInstallHint()}\n`);
      return ExitCode.notConfigured;
    }
    if (isInsituError(error)) {
      io.err(`The demo stack did not start: ${error.message}\n`);
      const lastLines = error.details.lastLines;
      if (Array.isArray(lastLines)) io.err(`  ${lastLines.join("\n  ")}\n`);
      return ExitCode.taskFailed;
    }
    throw error;
  } finally {
    process.off("SIGINT", abortStart);
  }
  const interrupt = (): void => void stack.stop();
  process.once("SIGINT", interrupt);
  try {
    if (!stack.services.has("gateway")) {
      io.err("The demo needs the gateway service, and this checkout has none.\n");
      return ExitCode.notConfigured;
    }
    say(`Stack up: ${[...stack.services.keys()].join(", ")}\n`);
    const client = new GatewayClient(stack.url("gateway"));
    const records: (TaskRecord | undefined)[] = [];
    for (const [index, question] of manifest.questions.entries()) {
      say(`\n${bold(`Question ${index + 1} of ${manifest.questions.length}:`)} ${question}\n`);
      const result = await askThroughGateway(client, question, {
        // --json: stdout carries the figures only (errors still reach stderr).
        io: json ? { ...io, out: () => undefined } : io,
        json: false,
        quiet: json,
        indent: "  ",
      });
      records.push(result.record);
      if (!result.record) return result.exitCode;
    }
    const summary = await client.metricsSummary().catch(() => undefined);
    const figures = demoFigures(manifest.questions, records, summary);
    const kept = keepTarget
      ? await copyLibrary({ url: stack.natsUrl, prefix: stack.prefix }, keepTarget)
      : undefined;
    if (json) {
      const scripted = {
        scripted: true,
        note: "The model's answers were scripted; no model was called.",
        scenario: manifest.scenarioPath,
      };
      io.out(`${JSON.stringify({ ...scripted, ...figures, ...(kept ? { kept } : {}) }, null, 2)}\n`);
    } else io.out(renderFigures(figures, bold));
    if (kept) {
      say(
        `Kept: ${kept.tools} tool(s) (${kept.created} new) copied into your local library` +
          (kept.snapshot === undefined ? "" : ` as snapshot ${kept.snapshot}`) +
          " — see `insitu tools` and the dashboard.\n",
      );
    }
    const allSucceeded = records.every((record) => record?.status === "succeeded");
    return allSucceeded ? ExitCode.ok : ExitCode.taskFailed;
  } finally {
    process.off("SIGINT", interrupt);
    say("\nStopping the demo stack…\n");
    await stack.stop();
    say(
      keepTarget
        ? "Done. (The demo's stack is gone; its tools stay in your local library.)\n"
        : "Done. (Your own library was not touched: the demo used a temporary NATS.)\n",
    );
  }
}

export function demoFigures(
  questions: readonly string[],
  records: readonly (TaskRecord | undefined)[],
  summary: Record<string, unknown> | undefined,
): DemoFigures {
  const rows = questions.map((question, index) => {
    const record = records[index];
    const created = new Set(record?.toolsCreated ?? []);
    return {
      question,
      ...(record ? { taskId: record.taskId } : {}),
      status: record?.status ?? "not-run",
      toolsCreated: record?.toolsCreated ?? [],
      toolsReused: (record?.toolsUsed ?? []).filter((name) => !created.has(name)),
      toolCalls: record?.usage.toolCalls ?? 0,
    };
  });
  const sum = (pick: (record: TaskRecord) => number): number =>
    records.reduce((total, record) => total + (record ? pick(record) : 0), 0);
  const number = (value: unknown): number | null => (typeof value === "number" ? value : null);
  const toolsCreated = rows.reduce((total, row) => total + row.toolsCreated.length, 0);
  const toolCalls = sum((record) => record.usage.toolCalls);
  return {
    questions: rows,
    toolsCreated,
    versionsCreated: number(summary?.toolsCreated),
    toolsReused: rows.reduce((total, row) => total + row.toolsReused.length, 0),
    toolCalls,
    egl:
      number(summary?.egl) ??
      (toolCalls > 0 ? (number(summary?.toolsCreated) ?? toolsCreated) / toolCalls : null),
    librarySize: number(summary?.librarySize),
    inputTokens: sum((record) => record.usage.inputTokens),
    outputTokens: sum((record) => record.usage.outputTokens),
    costUsd: sum((record) => record.usage.costUsd),
  };
}

export function renderFigures(figures: DemoFigures, bold: (text: string) => string = (text) => text): string {
  const lines = ["", bold("What happened:")];
  for (const [index, row] of figures.questions.entries()) {
    lines.push(
      `  Q${index + 1} ${row.status}: created ${row.toolsCreated.length ? row.toolsCreated.join(", ") : "no tools"}; ` +
        `reused ${row.toolsReused.length ? row.toolsReused.join(", ") : "none"}; ${row.toolCalls} tool call(s)`,
    );
  }
  lines.push(
    "",
    bold("Figures:"),
    `  tools created   ${figures.toolsCreated}` +
      (figures.versionsCreated !== null && figures.versionsCreated !== figures.toolsCreated
        ? `   (${figures.versionsCreated} tool versions, counting repaired ones)`
        : ""),
    `  tools reused    ${figures.toolsReused}`,
    `  tool calls      ${figures.toolCalls}`,
    `  EGL             ${figures.egl === null ? "n/a" : figures.egl.toFixed(3)}   (tools admitted to the library / tool calls; falls toward 0 as tools are reused)`,
    `  library size    ${figures.librarySize ?? "n/a"}`,
    `  tokens          ${figures.inputTokens} in / ${figures.outputTokens} out (counted by the scripted model; no model was called)`,
    `  cost            ${formatUsd(figures.costUsd)}`,
    "",
    "The model's answers above were SCRIPTED. For real questions set GEMINI_API_KEY (or an OpenAI-compatible",
    'endpoint), run `insitu up`, then `insitu ask "…"`.',
    "",
  );
  return lines.join("\n");
}
