import { readFileSync } from "node:fs";
import { isInsituError } from "@insitu/errors";
import { helpText, parseCommandLine } from "./args.js";
import { runAsk } from "./commands/ask.js";
import { runBatchCommand } from "./commands/batch.js";
import { runDemo } from "./commands/demo.js";
import { runDeadLetters } from "./commands/dlq.js";
import { runQuarantine } from "./commands/quarantine.js";
import { runReview } from "./commands/review.js";
import { runKeys } from "./commands/keys.js";
import { runEval } from "./commands/eval.js";
import { runLibrary } from "./commands/library.js";
import { runMcp } from "./commands/mcp.js";
import { runStatus } from "./commands/status-command.js";
import { runTools } from "./commands/tools.js";
import { runUp } from "./commands/up.js";
import { type CliIo, ExitCode } from "./io.js";

/** Runs the `insitu` command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv);
  switch (parsed.kind) {
    case "help":
      io.out(helpText(parsed.command));
      return ExitCode.ok;
    case "version":
      io.out(`insitu ${version()}\n`);
      return ExitCode.ok;
    case "error":
      io.err(
        `insitu: ${parsed.message}\n${parsed.command ? `Run \`insitu ${parsed.command} --help\`.` : "Run `insitu --help`."}\n`,
      );
      return ExitCode.usage;
    case "command":
      break;
  }
  try {
    switch (parsed.command) {
      case "up":
        return await runUp(parsed.values, io);
      case "status":
        return await runStatus(parsed.values, io);
      case "ask":
        return await runAsk(
          parsed.positionals[0] === "-" ? await readStdin() : (parsed.positionals[0] ?? ""),
          parsed.values,
          io,
        );
      case "demo":
        return await runDemo(parsed.values, io);
      case "tools":
        return await runTools(parsed.positionals[0], parsed.values, io);
      case "library":
        return await runLibrary(parsed.positionals, parsed.values, io);
      case "dlq":
        return await runDeadLetters(parsed.positionals, parsed.values, io);
      case "review":
        return await runReview(parsed.positionals, parsed.values, io);
      case "quarantine":
        return await runQuarantine(parsed.positionals, parsed.values, io);
      case "keys":
        return await runKeys(parsed.values, io);
      case "batch":
        return await runBatchCommand(parsed.positionals[0] ?? "", parsed.values, io);
      case "mcp":
        return await runMcp(parsed.values, io);
      case "eval":
        return await runEval(parsed.positionals[0] ?? "", parsed.values, io);
      default:
        io.err(`insitu: command ${parsed.command} is not implemented\n`);
        return ExitCode.usage;
    }
  } catch (error) {
    if (isInsituError(error, "GATEWAY_UNREACHABLE")) {
      io.err(`insitu ${parsed.command}: ${error.message}\n`);
      return ExitCode.unreachable;
    }
    if (isInsituError(error)) {
      io.err(`insitu ${parsed.command}: ${error.code}: ${error.message}\n`);
      return error.category === "user" ? ExitCode.usage : ExitCode.taskFailed;
    }
    throw error;
  }
}

/** The question from standard input (`insitu ask -`), for long or generated questions. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8").trim();
}

function version(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return manifest.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
