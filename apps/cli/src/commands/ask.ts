import { randomBytes } from "node:crypto";
import type { TaskRecord } from "@insitu/contracts";
import { isInsituError } from "@insitu/errors";
import { type AttachmentInput, checkAttachments, formatSize, readAttachmentSources } from "@insitu/files";
import { numberOption } from "../args.js";
import { GatewayClient } from "../client/gateway-client.js";
import { renderEvent, renderSummary } from "../client/progress.js";
import { type CliIo, ExitCode } from "../io.js";
import { type ModelSetup, NO_MODEL_MESSAGE, detectModelSetup } from "../model-setup.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { resolveTargets } from "../targets.js";
import { reportedModels } from "./status.js";

export interface AskResult {
  exitCode: number;
  record?: TaskRecord;
}

/** `insitu ask "question"`: submit through the gateway, show live progress, print the answer. */
export async function runAsk(question: string, values: Record<string, unknown>, io: CliIo): Promise<number> {
  const budgets: { rounds?: number; tokens?: number; costUsd?: number; wallMs?: number } = {};
  for (const [option, key, integer, scale] of [
    ["rounds", "rounds", true, 1],
    ["max-tokens", "tokens", true, 1],
    ["max-cost", "costUsd", false, 1],
    ["timeout", "wallMs", false, 1000],
  ] as const) {
    const value = numberOption(values, option, { integer });
    if (typeof value === "string") {
      io.err(`${value}\n`);
      return ExitCode.usage;
    }
    if (value !== undefined) budgets[key] = key === "wallMs" ? Math.round(value * scale) : value;
  }
  if (!question.trim()) {
    io.err('The question is empty. Usage: insitu ask "question"\n');
    return ExitCode.usage;
  }
  const root = findRepoRoot();
  const state = await readStackState(root);
  const targets = resolveTargets(values, io.env, state);
  // The services' environment is what counts, not this terminal's: ask the running stack which
  // model each role has ($SRV). When it cannot say, fall back to what `insitu up` recorded, and
  // without a recorded stack (a gateway elsewhere) judge only the default target by this terminal.
  const knowsNats = Boolean(state) || typeof values.nats === "string" || Boolean(io.env.NATS_URL);
  const reported = knowsNats ? await reportedModels(targets.natsUrl, targets.prefix) : undefined;
  const explicitGateway = typeof values.gateway === "string" || Boolean(io.env.INSITU_GATEWAY_URL);
  const missingRoles = reported
    ? reported.filter((entry) => entry.model === null).map((entry) => entry.role)
    : undefined;
  const unconfigured = missingRoles
    ? missingRoles.length > 0
    : state
      ? state.model?.configured === false
      : !explicitGateway && !detectModelSetup(io.env, root).configured;
  if (unconfigured) {
    io.err(`${noModelInStack(detectModelSetup(io.env, root), missingRoles, Boolean(state || reported))}\n`);
    return ExitCode.notConfigured;
  }
  const sources = Array.isArray(values.file) ? (values.file as string[]) : [];
  let attachments: AttachmentInput[] = [];
  try {
    attachments = await readAttachmentSources(sources, { baseDir: process.cwd() });
    // Checked here too, so a bad file is named before anything is sent; the gateway checks again.
    checkAttachments(attachments);
  } catch (error) {
    io.err(`${isInsituError(error) ? `${error.code}: ` : ""}${(error as Error).message}\n`);
    return ExitCode.usage;
  }
  const result = await askThroughGateway(new GatewayClient(targets.gatewayUrl), question, {
    attachments,
    budgets,
    json: values.json === true,
    quiet: values.quiet === true,
    io,
  });
  return result.exitCode;
}

/**
 * What to do when the stack has no model. A key set only in this terminal does nothing: the
 * services read theirs from the terminal that ran `insitu up`, so that is where to set it.
 */
export function noModelInStack(
  here: ModelSetup,
  missingRoles: readonly string[] | undefined,
  stackRunning: boolean,
): string {
  if (!stackRunning) return here.configured ? NO_MODEL_MESSAGE : here.message;
  const which = missingRoles?.length
    ? `The running stack has no model for ${missingRoles.join(", ")}`
    : "The running stack was started without a model";
  const lines = [
    `${which}: the services read the model settings from the environment of \`insitu up\` when it starts.`,
  ];
  if (here.configured) {
    lines.push(
      `This terminal has one (${here.description}), but setting it here does not reach the services.`,
      "Stop `insitu up` (Ctrl-C), set it in the terminal that runs `insitu up`, and start `insitu up` again",
      "— or write insitu.models.json in the repo root (read when the services start), then restart `insitu up`.",
    );
  } else {
    lines.push(
      "In the terminal that runs `insitu up`: stop it (Ctrl-C), then set GEMINI_API_KEY (or",
      "INSITU_OPENAI_BASE_URL and INSITU_OPENAI_MODEL), or write insitu.models.json in the repo root, and",
      "start `insitu up` again. To watch insitu work without any model, run `insitu demo`.",
    );
  }
  return lines.join("\n");
}

/** Submits, follows the events, fetches the final record; shared by `ask` and `demo`. */
export async function askThroughGateway(
  client: GatewayClient,
  question: string,
  options: {
    budgets?: { rounds?: number; tokens?: number; costUsd?: number; wallMs?: number };
    attachments?: AttachmentInput[];
    json?: boolean;
    quiet?: boolean;
    io: CliIo;
    indent?: string;
  },
): Promise<AskResult> {
  const { io } = options;
  const indent = options.indent ?? "";
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once("SIGINT", onSigint);
  try {
    const submitted = await client.submitTask({
      question,
      taskId: `cli-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`,
      ...(options.budgets && Object.keys(options.budgets).length > 0
        ? { options: { budgets: options.budgets } }
        : {}),
      ...(options.attachments && options.attachments.length > 0
        ? {
            attachments: options.attachments.map((attachment) => ({
              name: attachment.name,
              data: Buffer.from(attachment.bytes).toString("base64"),
              ...(attachment.declaredType ? { mediaType: attachment.declaredType } : {}),
            })),
          }
        : {}),
    });
    if (!options.json && !options.quiet) {
      io.out(`${indent}submitted as task ${submitted.taskId}\n`);
      const stored = options.attachments?.length ? (await client.getTask(submitted.taskId)).attachments : [];
      for (const file of stored ?? [])
        io.out(`${indent}attached ${file.name} (${file.mediaType}, ${formatSize(file.size)})\n`);
    }
    await client.followEvents(
      submitted.taskId,
      (event) => {
        if (options.json || options.quiet) return;
        for (const line of renderEvent(event, { color: io.color })) io.out(`${indent}${line}\n`);
      },
      { signal: controller.signal },
    );
    const record = await client.getTask(submitted.taskId);
    if (options.json) io.out(`${JSON.stringify(record, null, 2)}\n`);
    else for (const line of renderSummary(record, { color: io.color })) io.out(`${indent}${line}\n`);
    return { exitCode: record.status === "succeeded" ? ExitCode.ok : ExitCode.taskFailed, record };
  } catch (error) {
    if (controller.signal.aborted) {
      io.err("\nStopped following the task (it keeps running in the stack).\n");
      return { exitCode: ExitCode.interrupted };
    }
    if (isInsituError(error, "GATEWAY_UNREACHABLE")) {
      io.err(`${error.message}\n`);
      return { exitCode: ExitCode.unreachable };
    }
    if (isInsituError(error)) {
      io.err(`${error.code}: ${error.message}\n`);
      return { exitCode: error.category === "user" ? ExitCode.usage : ExitCode.taskFailed };
    }
    throw error;
  } finally {
    process.off("SIGINT", onSigint);
  }
}
