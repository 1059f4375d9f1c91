import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@insitu/bus";
import { TaskEvents, TaskGet, type TaskBudgets, type TaskRecord, TaskSubmit } from "@insitu/contracts";
import { type MisbehavingGemini, type MisbehavingOptions, startMisbehavingGemini } from "@insitu/llm/testing";
import { type Stack, startStack } from "./stack.js";

/**
 * The whole stack (registry + manager, each its own process, real NATS) on the Gemini provider,
 * pointed at the misbehaving Gemini stand-in (FAKE provider, real wire format, real SDK in the
 * services). A task's question carries a `[mb:<kind>-<id>]` marker that picks how the stand-in
 * answers every request of that task, and keys the stand-in's ledger (requests, arrival times,
 * body sizes, tokens billed) for that task. Used by test/e2e/misbehaving-provider.test.ts and
 * test/bench/llm/misbehaving.ts.
 */
export interface MisbehavingStack {
  stack: Stack;
  bus: Bus;
  gemini: MisbehavingGemini;
  /** Submits a task marked `[mb:<kind>-<id>]` and resolves with its final record and wall time. */
  run(kind: string, id: string, budgets?: TaskBudgets): Promise<TaskOutcome>;
  stop(): Promise<void>;
}

export interface TaskOutcome {
  key: string;
  record: TaskRecord;
  /** createdAt → finishedAt of the record, ms. */
  wallMs: number;
}

export interface MisbehavingStackOptions {
  stand?: MisbehavingOptions;
  /** The models config `retry` block (attempts, delays, total time). */
  retry?: Record<string, number>;
  env?: Record<string, string>;
  /** Services to start (default registry + manager: the manager's plan is the first model call). */
  services?: string[];
  /** A task that has not ended after this long fails the run (ms). */
  taskTimeoutMs?: number;
  onLog?: (service: string, line: string) => void;
}

export async function startMisbehavingStack(
  options: MisbehavingStackOptions = {},
): Promise<MisbehavingStack> {
  const gemini = await startMisbehavingGemini(options.stand);
  const dir = mkdtempSync(join(tmpdir(), "insitu-misbehaving-"));
  writeFileSync(
    join(dir, "insitu.models.json"),
    JSON.stringify({
      default: {
        provider: "gemini",
        baseUrl: gemini.url,
        apiKeyEnv: "GEMINI_API_KEY",
        retry: options.retry ?? { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1000 },
      },
    }),
  );
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      services: options.services ?? ["registry", "manager"],
      env: {
        LOG_LEVEL: "warn",
        INSITU_MODELS_CONFIG: join(dir, "insitu.models.json"),
        GEMINI_API_KEY: "misbehaving-stand-in-key",
        ...options.env,
      },
      onLog: options.onLog ?? (() => undefined),
    });
  } catch (error) {
    await gemini.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const started = stack;
  const bus = await connectBus({ url: started.natsUrl, prefix: started.prefix, name: "misbehaving-client" });
  const timeoutMs = options.taskTimeoutMs ?? 120_000;

  async function run(kind: string, id: string, budgets: TaskBudgets = {}): Promise<TaskOutcome> {
    const key = `${kind}-${id}`;
    const taskId = `mb-${key}-${Date.now().toString(36)}`;
    const ended = new Promise<void>((resolve) => {
      const subscription = bus.subscribe(
        TaskEvents,
        (event) => {
          if (event.kind === "task-end") {
            subscription.unsubscribe();
            resolve();
          }
        },
        { token: taskId },
      );
    });
    await bus.request(TaskSubmit, {
      question: `[mb:${key}] What is the capital of the country with the most lakes?`,
      taskId,
      options: { budgets },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ended,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`task ${taskId} did not end within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const record = await bus.request(TaskGet, { taskId });
    const wallMs = Date.parse(record.finishedAt ?? record.updatedAt) - Date.parse(record.createdAt);
    return { key, record, wallMs };
  }

  return {
    stack: started,
    bus,
    gemini,
    run,
    async stop() {
      await bus.drain();
      await started.stop();
      await gemini.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
