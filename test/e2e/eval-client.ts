import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { findRepoRoot } from "../harness/stack.js";

const run = promisify(execFile);
const root = findRepoRoot();

/** The committed sample set every eval e2e test asks (test/data/eval/own.jsonl). */
export const EVAL_SAMPLE = join(root, "test/data/eval/own.jsonl");
/** The FAKE scripted judge for that set. */
export const SCRIPTED_JUDGE = join(root, "test/e2e/scenarios/eval/judge.json");

export interface EvalCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bin/insitu eval <sample> --benchmark jsonl …args` in `cwd` with a clean environment plus
 * `env`, and answers its exit code and output (a non-zero exit is an answer, not a throw).
 */
export function insituEval(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<EvalCliResult> {
  return run(join(root, "bin/insitu"), ["eval", EVAL_SAMPLE, "--benchmark", "jsonl", ...args], {
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 170_000,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      NO_COLOR: "1",
      ...options.env,
    },
  }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/** `--nats URL --prefix P` for a harness stack. */
export function stackArgs(stack: { natsUrl: string; prefix: string }): string[] {
  return ["--nats", stack.natsUrl, "--prefix", stack.prefix];
}
