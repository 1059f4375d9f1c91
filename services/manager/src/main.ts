import { endpoint } from "@insitu/bus";
import {
  ManagerStepWork,
  ManagerWork,
  TASKS_BUCKET,
  TASK_STEPS_BUCKET,
  TaskGet,
  TaskList,
  TaskSubmit,
} from "@insitu/contracts";
import { runService } from "@insitu/runtime";
import { withCallLimits } from "@insitu/llm";
import { MetricName } from "@insitu/telemetry";
import { Counter, Histogram } from "prom-client";
import { busEffects, kvStepReader, kvTaskStore, registryCatalog, registrySearch } from "./adapters.js";
import { ManagerConfigSchema } from "./config.js";
import { judgeRound } from "./judge.js";
import { busRateLimitGate, consumeRoleWork, kvStepStore, modelForRole } from "@insitu/roles";
import { planRound } from "./planner.js";
import { externalToolsOverBus, withExternalTools } from "./external-tools.js";
import { createManager } from "./service.js";
import { endedTaskCounts } from "./durable-counters.js";

await runService({
  name: "manager",
  config: ManagerConfigSchema,
  async start({ config, bus, logger, metrics }) {
    const tasksTotal = new Counter({
      name: MetricName.tasksTotal,
      help: "Tasks that ended, by final status.",
      labelNames: ["status"],
      registers: [metrics],
    });
    const taskDuration = new Histogram({
      name: MetricName.taskDurationSeconds,
      help: "Submission to end of a task, seconds, by final status.",
      labelNames: ["status"],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [metrics],
    });
    const buildsAvoided = new Counter({
      name: MetricName.buildsAvoidedTotal,
      help: "Requested tool builds the Manager dropped because a library tool covered the capability (count).",
      registers: [metrics],
    });
    const gate = await busRateLimitGate(bus);
    const { model, costOf } = modelForRole("manager", config.INSITU_SCRIPT, process.env, { metrics, gate });
    const tasks = await bus.kv(TASKS_BUCKET, { history: 5 });
    const steps = await bus.kv(TASK_STEPS_BUCKET);
    const store = kvTaskStore(tasks);
    // Seeded from the durable task states, so a restart does not reset the counter to zero.
    for (const [status, count] of await endedTaskCounts(store)) tasksTotal.inc({ status }, count);
    const manager = createManager({
      store,
      effects: busEffects(bus),
      readStep: kvStepReader(steps),
      callRecords: kvStepStore(steps),
      writeStep: (taskId, step, value) => kvStepStore(steps).put(taskId, step, value),
      search: withExternalTools(
        registrySearch(bus, config.RETRIEVAL_TOP_K),
        externalToolsOverBus(bus),
        config.RETRIEVAL_TOP_K,
      ),
      catalog: registryCatalog(bus, config.PLAN_CATALOG_TOKENS),
      onBuildsAvoided: (count) => buildsAvoided.inc(count),
      // Each call sees the task's deadline and remaining tokens on every request (repairs too).
      plan: async (input, limits) => planRound(withCallLimits(model, limits ?? {}), input),
      judge: async (input, limits) => judgeRound(withCallLimits(model, limits ?? {}), input),
      costOf,
      now: () => new Date(),
      logger,
      expireOnTime: true,
      onFinished: (record) => {
        tasksTotal.inc({ status: record.status });
        const ended = Date.parse(record.finishedAt ?? record.updatedAt);
        taskDuration.observe(
          { status: record.status },
          Math.max(0, (ended - Date.parse(record.createdAt)) / 1000),
        );
      },
      defaults: {
        rounds: config.TASK_ROUNDS,
        tokens: config.TASK_TOKENS,
        costUsd: config.TASK_COST_USD,
        wallMs: config.TASK_WALL_MS,
        executorSteps: config.EXECUTOR_STEPS,
      },
    });
    const served = await bus.serve({
      name: "manager",
      version: "0.1.0",
      description: "Task state machine: submit, get, list; plans, judges and drives every task.",
      endpoints: [
        endpoint(TaskSubmit, (data) => manager.submit(data)),
        endpoint(TaskGet, (data) => manager.get(data)),
        endpoint(TaskList, (data) => manager.list(data)),
      ],
    });
    const consumer = await consumeRoleWork(
      bus,
      ManagerWork,
      (work, hooks) => manager.handleWork(work, hooks),
      {
        ackWaitMs: config.WORK_ACK_WAIT_MS,
        maxDeliver: config.WORK_MAX_DELIVER,
        concurrency: config.WORK_CONCURRENCY,
      },
    );
    const stepConsumer = await consumeRoleWork(
      bus,
      ManagerStepWork,
      (work, hooks) => manager.handleStep(work, hooks),
      {
        ackWaitMs: config.WORK_ACK_WAIT_MS,
        maxDeliver: config.WORK_MAX_DELIVER,
        concurrency: config.WORK_CONCURRENCY,
      },
    );
    const sweeper = setInterval(() => {
      manager.sweepOverdue().catch((error: unknown) => logger.warn("wall-time sweep failed", { error }));
    }, config.TASK_SWEEP_MS);
    sweeper.unref();
    return {
      async stop() {
        clearInterval(sweeper);
        manager.close();
        await consumer.stop();
        await stepConsumer.stop();
        await served.stop();
      },
    };
  },
});
