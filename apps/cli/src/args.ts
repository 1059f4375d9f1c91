import { type ParseArgsConfig, parseArgs } from "node:util";

/**
 * The command table: each command's options (node:util parseArgs config) and its help text.
 * Parsing is pure so it is tested without running anything.
 */
type OptionSpec = NonNullable<ParseArgsConfig["options"]>[string] & {
  description: string;
  valueName?: string;
};

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Positionals this command takes (for help and arity checks). */
  positionals: { min: number; max: number };
  details?: string;
}

const common = {
  help: { type: "boolean", short: "h", description: "Show help for this command." },
} satisfies Record<string, OptionSpec>;

const target = {
  gateway: {
    type: "string",
    valueName: "URL",
    description:
      "Gateway URL (default: the stack `insitu up` started, else $INSITU_GATEWAY_URL, else http://127.0.0.1:8080).",
  },
} satisfies Record<string, OptionSpec>;

const natsTarget = {
  nats: {
    type: "string",
    valueName: "URL",
    description: "NATS URL (default: the running stack's, else $NATS_URL, else nats://127.0.0.1:4222).",
  },
  monitor: {
    type: "string",
    valueName: "URL",
    description:
      "NATS monitor URL (default: the running stack's, else $NATS_MONITOR_URL, else http://127.0.0.1:8222).",
  },
  prefix: {
    type: "string",
    valueName: "PREFIX",
    description:
      "Subject prefix of the stack (default: the running stack's, else $NATS_PREFIX, else insitu).",
  },
} satisfies Record<string, OptionSpec>;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "up",
    summary: "Start the local stack: nats-server (JetStream, data in .data/nats) and every service.",
    usage: "insitu up [--port 8080] [--only a,b] [--replicas executor=3,sandbox=2] [--raw-logs]",
    positionals: { min: 0, max: 0 },
    options: {
      ...common,
      port: {
        type: "string",
        valueName: "PORT",
        description: "Gateway port (default 8080, or $INSITU_GATEWAY_PORT; a free one if taken).",
      },
      only: {
        type: "string",
        valueName: "LIST",
        description: "Start only these services (comma-separated).",
      },
      replicas: {
        type: "string",
        valueName: "LIST",
        description: "Processes per service, e.g. executor=3,sandbox=2 (they share the role's work queue).",
      },
      "raw-logs": { type: "boolean", description: "Print services' JSON log lines as they are." },
    },
    details:
      "Uses $NATS_URL instead of starting nats-server when it is set. Ctrl-C stops everything\n" +
      "(SIGTERM, then SIGKILL after a grace period). The library and tasks persist in .data/nats.",
  },
  {
    name: "status",
    summary: "Show NATS and JetStream health and the services found through $SRV discovery.",
    usage: "insitu status [--json] [--all]",
    positionals: { min: 0, max: 0 },
    options: {
      ...common,
      ...natsTarget,
      ...target,
      json: { type: "boolean", description: "Print one JSON object (for scripts)." },
      all: { type: "boolean", description: "Show services of every subject prefix, not only this stack's." },
      wait: {
        type: "string",
        valueName: "MS",
        description: "How long to collect $SRV answers (default 750).",
      },
    },
  },
  {
    name: "ask",
    summary: "Ask a question; watch the plan, the tools being written, tested and called; get the answer.",
    usage: 'insitu ask "question"|- [-f FILE]… [--json] [--rounds N] [--max-cost USD] [--timeout SECONDS]',
    positionals: { min: 1, max: 1 },
    options: {
      ...common,
      ...target,
      nats: natsTarget.nats,
      prefix: natsTarget.prefix,
      file: {
        type: "string",
        short: "f",
        multiple: true,
        valueName: "FILE",
        description:
          "Attach a file (repeatable): a path, or a data: URI. Images and PDFs reach the model; tools read any of them.",
      },
      json: { type: "boolean", description: "Print only the final task record as JSON (for scripts)." },
      rounds: { type: "string", valueName: "N", description: "Manager round budget for this task." },
      "max-tokens": { type: "string", valueName: "N", description: "Token budget for this task." },
      "max-cost": {
        type: "string",
        valueName: "USD",
        description: "Cost budget for this task, in US dollars.",
      },
      timeout: { type: "string", valueName: "SECONDS", description: "Wall-time budget for this task." },
      quiet: { type: "boolean", short: "q", description: "Only the answer, no live progress." },
    },
    details:
      "Needs a model: set GEMINI_API_KEY (Gemini), or an OpenAI-compatible endpoint\n" +
      "(INSITU_OPENAI_BASE_URL and INSITU_OPENAI_MODEL, plus INSITU_OPENAI_API_KEY if it needs one),\n" +
      "or write insitu.models.json — in the terminal that runs `insitu up`. Without one, try `insitu demo`.",
  },
  {
    name: "demo",
    summary: "Watch a tool being written, tested, registered and reused — offline, with a SCRIPTED model.",
    usage: "insitu demo [--json] [--verbose] [--keep]",
    positionals: { min: 0, max: 0 },
    options: {
      ...common,
      json: { type: "boolean", description: "Print the figures as JSON at the end." },
      verbose: { type: "boolean", short: "v", description: "Also print the services' log lines." },
      keep: {
        type: "boolean",
        description:
          "Copy the demo's library into the running local stack (`insitu up`), so `insitu tools` and the dashboard show it.",
      },
      nats: natsTarget.nats,
      prefix: natsTarget.prefix,
    },
    details:
      "Starts its own throw-away stack (temporary NATS data, free ports) so your library is untouched,\n" +
      "unless --keep: then its tools are imported into the running stack's library (one snapshot).\n" +
      "Every service, the sandbox and the registry are real; only the model's answers are scripted.",
  },
  {
    name: "tools",
    summary: "List the tool library, or the tools retrieval ranks best for a query.",
    usage: 'insitu tools ["query"] [--json]',
    positionals: { min: 0, max: 1 },
    options: {
      ...common,
      ...target,
      json: { type: "boolean", description: "Print the gateway's answer as JSON." },
    },
  },
  {
    name: "library",
    summary: "Export the tool library to plain files, or import it (warm start).",
    usage: "insitu library export DIR | insitu library import DIR",
    positionals: { min: 2, max: 2 },
    options: {
      ...common,
      ...natsTarget,
      json: { type: "boolean", description: "Print the summary as JSON." },
    },
  },
  {
    name: "review",
    summary: "Tools the approval policy holds for review: list them, show one, approve or deny it.",
    usage:
      'insitu review list [pending|approved|rejected] | insitu review show HASH | insitu review approve HASH --reason "…" | insitu review deny HASH --reason "…"',
    positionals: { min: 1, max: 2 },
    options: {
      ...common,
      ...target,
      reason: { type: "string", description: "Why (recorded in the tool's history; required to decide)." },
      by: { type: "string", description: "Who decides (default: $USER)." },
      json: { type: "boolean", description: "Print the gateway's answer as JSON." },
    },
    details:
      "HASH is a version's content hash (sha256:…, or a unique prefix of its hex from `review list`).\n" +
      "`show` prints its permissions with what the policy said of each, the requesting task, its\n" +
      "tests and its code. Approving admits that version only: its task's pool serves it, and the\n" +
      "secrets the policy sends to review are granted to it. The policy is INSITU_APPROVAL_POLICY.",
  },
  {
    name: "dlq",
    summary: "Work items that failed for good: list, show, retry or purge the dead letters.",
    usage: "insitu dlq list [QUEUE] | insitu dlq show SEQ | insitu dlq retry SEQ | insitu dlq purge [QUEUE]",
    positionals: { min: 1, max: 2 },
    options: {
      ...common,
      ...natsTarget,
      json: { type: "boolean", description: "Print the letters as JSON." },
    },
    details:
      "QUEUE is a work queue's subject (e.g. tasks.work). `retry` puts the item back on its queue as a\n" +
      "new message and removes the letter; `purge` removes all letters (or one queue's).",
  },
  {
    name: "keys",
    summary: "Print the signing keys of the sandbox, executor and gateway as environment lines.",
    usage: "insitu keys [--new]",
    positionals: { min: 0, max: 0 },
    options: {
      ...common,
      new: {
        type: "boolean",
        description: "Print a fresh set (for docker-compose or Kubernetes) instead of the local stack's.",
      },
    },
    details:
      "Without --new: the keys `insitu up` uses, kept in <data dir>/signing-keys.json (mode 0600;\n" +
      "written on first use). The sandbox signs test reports with SANDBOX_SIGNING_KEY, the executor and\n" +
      "gateway sign usage outcomes; the registry trusts TRUSTED_SANDBOX_KEYS and TRUSTED_USAGE_KEYS.",
  },
  {
    name: "quarantine",
    summary: "Stored entries that failed to decode and were moved aside: list or purge them.",
    usage: "insitu quarantine list [BUCKET] | insitu quarantine purge",
    positionals: { min: 1, max: 2 },
    options: {
      ...common,
      ...natsTarget,
      json: { type: "boolean", description: "Print the entries as JSON." },
    },
  },
  {
    name: "batch",
    summary: "Run a JSONL file of questions in batches; the evolver absorbs each batch's tools at its end.",
    usage:
      "insitu batch questions.jsonl [--batch-size 16] [--concurrency N] [--warm-start zero|current|SNAPSHOT|DIR] [--out DIR] [--share-within-batch]",
    positionals: { min: 1, max: 1 },
    options: {
      ...common,
      ...natsTarget,
      "batch-size": { type: "string", valueName: "B", description: "Questions per batch (default 16)." },
      concurrency: {
        type: "string",
        valueName: "N",
        description: "Tasks running at once within a batch (default: the batch size).",
      },
      "warm-start": {
        type: "string",
        valueName: "FROM",
        description:
          "Library to start from: zero (empty, default), current, a snapshot number, or a folder from `insitu library export`.",
      },
      out: {
        type: "string",
        valueName: "DIR",
        description: "Where predictions.jsonl, batches.jsonl and summary.md go (default batch-<run id>).",
      },
      "share-within-batch": {
        type: "boolean",
        description:
          "Admit each task's tools at its end, so later tasks of the same batch see them (default: at the barrier).",
      },
      json: { type: "boolean", description: "Print the final batch rows as JSON." },
    },
    details:
      'Each line: {"id": …, "question": "…", "answer"?: …, "attachments"?: …}; other fields are echoed.\n' +
      "Re-running the same command resumes the run: finished answers are kept and no question runs twice.",
  },
  {
    name: "mcp",
    summary: "Serve the evolving tool library as an MCP server over stdio (for IDEs and assistants).",
    usage: "insitu mcp [--nats URL] [--prefix PREFIX]",
    positionals: { min: 0, max: 0 },
    options: {
      ...common,
      ...natsTarget,
    },
    details:
      "tools/list is the library's current snapshot; tools/call runs the tool in the sandbox of the\n" +
      "running stack; clients get notifications/tools/list_changed whenever the library changes.\n" +
      "stdout carries only MCP messages; logs go to stderr. The gateway serves the same on /mcp.",
  },
  {
    name: "eval",
    summary:
      "Run a benchmark through insitu batch (or take a run's predictions) and score it: accuracy ± CI, cost, plots.",
    usage:
      "insitu eval DATASET --benchmark NAME [--predictions FILE …] [--repeats N] [--batch-size B] [--warm-start FROM] [--out DIR] [--limit N] [--sample N] [--seed N]",
    positionals: { min: 1, max: 1 },
    options: {
      ...common,
      benchmark: {
        type: "string",
        valueName: "NAME",
        description:
          "hle, dsqa, finsearchcomp, xbench-deepsearch, xbench-scienceqa, or jsonl ({id, question, answer}).",
      },
      predictions: {
        type: "string",
        multiple: true,
        valueName: "FILE",
        description:
          "Score these predictions instead of running (insitu's predictions.jsonl, or the original's); once per run.",
      },
      ...natsTarget,
      repeats: {
        type: "string",
        valueName: "N",
        description:
          "Ask the questions N times (each from a zero start unless --warm-start) for mean ± spread.",
      },
      "batch-size": {
        type: "string",
        valueName: "B",
        description: "Questions per batch (default 16), as insitu batch.",
      },
      concurrency: {
        type: "string",
        valueName: "N",
        description: "Tasks at once within a batch (default B).",
      },
      "warm-start": {
        type: "string",
        valueName: "FROM",
        description: "zero (default), current, a snapshot number, or an exported library folder.",
      },
      "share-within-batch": { type: "boolean", description: "As insitu batch." },
      out: { type: "string", valueName: "DIR", description: "Where the report goes (default ./eval-NAME)." },
      limit: {
        type: "string",
        valueName: "N",
        description: "Score only the first N items (after --sample/--seed).",
      },
      sample: { type: "string", valueName: "N", description: "Score a seeded random sample of N items." },
      seed: { type: "string", valueName: "N", description: "Seed for --sample and a fixed shuffled order." },
      "judge-prompt": {
        type: "string",
        multiple: true,
        valueName: "KIND=FILE",
        description:
          "Use a benchmark's own judge prompt (hle, dsqa, xbench, generic) with {{question}} {{response}} {{correct_answer}}.",
      },
      "judge-concurrency": {
        type: "string",
        valueName: "N",
        description: "Judge calls in flight (default 8).",
      },
    },
    details:
      "Every dataset item is in the denominator (missing = wrong); coverage is reported apart.\n" +
      "The judge is the `judge` model role (insitu.models.json, or GEMINI_API_KEY / INSITU_OPENAI_*).\n" +
      "Verdicts are cached in OUT/run-N/judged.jsonl: re-running resumes without paying twice.",
  },
];

export type ParsedCommandLine =
  | { kind: "help"; command?: string }
  | { kind: "version" }
  | { kind: "error"; message: string; command?: string }
  | {
      kind: "command";
      command: string;
      values: Record<string, string | boolean | string[] | undefined>;
      positionals: string[];
    };

export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    return rest[0] && first === "help" ? { kind: "help", command: rest[0] } : { kind: "help" };
  }
  if (first === "--version" || first === "-V" || first === "version") return { kind: "version" };
  const spec = COMMANDS.find((command) => command.name === first);
  if (!spec) {
    const suggestion = closest(
      first,
      COMMANDS.map((command) => command.name),
    );
    return {
      kind: "error",
      message: `unknown command "${first}"${suggestion ? ` — did you mean "${suggestion}"?` : ""}`,
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: Object.fromEntries(
        Object.entries(spec.options).map(([name, option]) => [
          name,
          {
            type: option.type,
            ...(option.short ? { short: option.short } : {}),
            ...(option.multiple ? { multiple: true } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return { kind: "error", command: spec.name, message: (error as Error).message };
  }
  if (parsed.values.help) return { kind: "help", command: spec.name };
  const { min, max } = spec.positionals;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    return {
      kind: "error",
      command: spec.name,
      message:
        parsed.positionals.length < min
          ? `missing argument — usage: ${spec.usage}`
          : `unexpected argument "${parsed.positionals[max]}" — usage: ${spec.usage}`,
    };
  }
  return {
    kind: "command",
    command: spec.name,
    values: parsed.values as Record<string, string | boolean | string[] | undefined>,
    positionals: parsed.positionals,
  };
}

export function helpText(command?: string): string {
  const spec = command ? COMMANDS.find((candidate) => candidate.name === command) : undefined;
  if (spec) {
    const lines = [`${spec.summary}`, "", `Usage: ${spec.usage}`, "", "Options:"];
    const width = Math.max(
      ...Object.entries(spec.options).map(([name, option]) => optionLabel(name, option).length),
    );
    for (const [name, option] of Object.entries(spec.options)) {
      lines.push(`  ${optionLabel(name, option).padEnd(width)}  ${option.description}`);
    }
    if (spec.details) lines.push("", spec.details);
    return `${lines.join("\n")}\n`;
  }
  const width = Math.max(...COMMANDS.map((candidate) => candidate.name.length));
  return [
    "insitu — an agent system that writes, tests, keeps and reuses its own tools.",
    "",
    "Usage: insitu <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((candidate) => `  ${candidate.name.padEnd(width)}  ${candidate.summary}`),
    "",
    "First time? `npm run start` sets up and runs the stack; then, in another terminal, `insitu demo`.",
    "Run `insitu <command> --help` for a command's options.",
    "",
  ].join("\n");
}

function optionLabel(name: string, option: OptionSpec): string {
  const short = option.short ? `-${option.short}, ` : "    ";
  const value = option.type === "string" ? ` ${option.valueName ?? "VALUE"}` : "";
  return `${short}--${name}${value}`;
}

/** The candidate within edit distance 2, if any (for "did you mean"). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance <= 2 && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** Parses a positive number option, or returns an error message naming the option. */
export function numberOption(
  values: Record<string, unknown>,
  name: string,
  options: { integer?: boolean } = {},
): number | undefined | string {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (options.integer && !Number.isInteger(value))) {
    return `--${name} expects a positive ${options.integer ? "integer" : "number"}, got "${String(raw)}"`;
  }
  return value;
}
