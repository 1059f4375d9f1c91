/**
 * Model calls under a misbehaving provider (issue 18), through the whole stack: the registry and
 * manager as their own processes on a real NATS, the real @google/genai SDK inside them, talking
 * to the misbehaving Gemini stand-in (FAKE provider, real wire format).
 *
 *   run A: 20 tasks whose every model request is answered 429 or 503 with Retry-After
 *   run B: 20 tasks whose answers are slow (a billed non-answer every --slow ms) under a
 *          --wall ms wall-time budget
 *
 * Prints requests per task, max task wall time, recorded vs served tokens and Retry-After
 * violations, and exits non-zero when a bound is broken:
 *   A: every task ends failed, ≤ maxAttempts requests each, no request before its Retry-After,
 *      recorded tokens = served tokens;
 *   B: every task ends BUDGET_EXCEEDED within wall + grace, recorded tokens = served tokens.
 *
 *   npx tsx test/bench/llm/misbehaving.ts [--tasks 20] [--wall 20000] [--slow 8000] [--grace 1000]
 */
import { parseArgs } from "node:util";
import { type TaskOutcome, startMisbehavingStack } from "../../harness/misbehaving-stack.js";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "20" },
    wall: { type: "string", default: "20000" },
    slow: { type: "string", default: "8000" },
    grace: { type: "string", default: "1000" },
    "retry-after": { type: "string", default: "2000" },
    attempts: { type: "string", default: "4" },
  },
});
const TASKS = Number(values.tasks);
const WALL_MS = Number(values.wall);
const SLOW_MS = Number(values.slow);
const GRACE_MS = Number(values.grace);
const RETRY_AFTER_MS = Number(values["retry-after"]);
const MAX_ATTEMPTS = Number(values.attempts);

const env = await startMisbehavingStack({
  stand: { retryAfterMs: RETRY_AFTER_MS, slowMs: SLOW_MS, heavyTokens: 30_000 },
  retry: { maxAttempts: MAX_ATTEMPTS, initialDelayMs: 500, maxDelayMs: 5000, maxTotalMs: 60_000 },
  taskTimeoutMs: Math.max(120_000, WALL_MS * 3),
});

const failures: string[] = [];
function check(ok: boolean, message: string): void {
  if (!ok) failures.push(message);
}

interface Figures {
  run: string;
  tasks: number;
  statuses: Record<string, number>;
  requestsPerTask: { min: number; max: number; mean: number; total: number };
  maxTaskWallMs: number;
  recordedTokens: number;
  servedTokens: number;
  retryAfterViolations: number;
}

function figures(run: string, outcomes: TaskOutcome[]): Figures {
  const statuses: Record<string, number> = {};
  let recorded = 0;
  let served = 0;
  let violations = 0;
  const requests: number[] = [];
  for (const outcome of outcomes) {
    const ledger = env.gemini.ledger(outcome.key);
    statuses[outcome.record.status] = (statuses[outcome.record.status] ?? 0) + 1;
    recorded += outcome.record.usage.inputTokens + outcome.record.usage.outputTokens;
    served += ledger.servedTokens;
    requests.push(ledger.requests);
    if (run === "A") {
      for (let index = 1; index < ledger.at.length; index++) {
        if ((ledger.at[index] as number) - (ledger.at[index - 1] as number) < RETRY_AFTER_MS - 10)
          violations += 1;
      }
    }
  }
  const total = requests.reduce((sum, value) => sum + value, 0);
  return {
    run,
    tasks: outcomes.length,
    statuses,
    requestsPerTask: {
      min: Math.min(...requests),
      max: Math.max(...requests),
      mean: Math.round((total / requests.length) * 100) / 100,
      total,
    },
    maxTaskWallMs: Math.max(...outcomes.map((outcome) => outcome.wallMs)),
    recordedTokens: recorded,
    servedTokens: served,
    retryAfterViolations: violations,
  };
}

try {
  // Run A: only 429 / 503 answers.
  const a = await Promise.all(
    Array.from({ length: TASKS }, (_, index) =>
      env.run(index % 2 === 0 ? "ratelimit" : "unavailable", `a${index}`),
    ),
  );
  const figA = figures("A", a);
  check(figA.statuses.failed === TASKS, `A: every task must end failed: ${JSON.stringify(figA.statuses)}`);
  check(
    figA.requestsPerTask.max <= MAX_ATTEMPTS,
    `A: ${figA.requestsPerTask.max} requests for one task > ${MAX_ATTEMPTS}`,
  );
  check(
    figA.retryAfterViolations === 0,
    `A: ${figA.retryAfterViolations} requests came before their Retry-After`,
  );
  check(
    figA.recordedTokens === figA.servedTokens,
    `A: recorded ${figA.recordedTokens} ≠ served ${figA.servedTokens}`,
  );

  // Let the shared cooldown of run A pass before run B.
  await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS + 200));

  // Run B: slow answers under a wall-time budget.
  const b = await Promise.all(
    Array.from({ length: TASKS }, (_, index) => env.run("slow", `b${index}`, { wallMs: WALL_MS })),
  );
  const figB = figures("B", b);
  check(
    figB.statuses["budget-exceeded"] === TASKS,
    `B: every task must end budget-exceeded: ${JSON.stringify(figB.statuses)}`,
  );
  check(
    b.every((outcome) => outcome.record.error?.code === "BUDGET_EXCEEDED"),
    "B: every task's error must be BUDGET_EXCEEDED",
  );
  check(
    figB.maxTaskWallMs <= WALL_MS + GRACE_MS,
    `B: a task took ${figB.maxTaskWallMs} ms > ${WALL_MS} + ${GRACE_MS} ms`,
  );
  check(
    figB.recordedTokens === figB.servedTokens,
    `B: recorded ${figB.recordedTokens} ≠ served ${figB.servedTokens}`,
  );

  console.log(
    JSON.stringify(
      {
        settings: {
          tasks: TASKS,
          maxAttempts: MAX_ATTEMPTS,
          retryAfterMs: RETRY_AFTER_MS,
          wallMs: WALL_MS,
          slowMs: SLOW_MS,
          graceMs: GRACE_MS,
        },
        A_only_429_503: figA,
        B_slow_answers: figB,
      },
      null,
      2,
    ),
  );
} catch (error) {
  failures.push(`run failed: ${String(error)}`);
} finally {
  await env.stop();
}

if (failures.length > 0) {
  console.error(`BOUNDS BROKEN:\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log("all bounds met");
