import { ExecutorRunWork, TASK_STEPS_BUCKET } from "@insitu/contracts";
import { WorkspaceStore } from "@insitu/files";
import { runService } from "@insitu/runtime";
import { kvStepStore, managerNotifier, taskEventPublisher, consumeRoleWork } from "@insitu/roles";
import { toolPorts } from "./adapters.js";
import { ExecutorConfigSchema } from "./config.js";
import { busRateLimitGate, modelForRole } from "@insitu/roles";
import { createExecutor } from "./service.js";

await runService({
  name: "executor",
  config: ExecutorConfigSchema,
  async start({ config, bus, logger, metrics }) {
    const gate = await busRateLimitGate(bus);
    const { model, costOf } = modelForRole("executor", config.INSITU_SCRIPT, process.env, { metrics, gate });
    // The summarizer role (context summaries, output reduction) falls back to the executor's model in a scripted run.
    const summarizer = config.INSITU_SCRIPT
      ? { model, costOf }
      : modelForRole("summarizer", undefined, process.env, { metrics, gate });
    const steps = await bus.kv(TASK_STEPS_BUCKET);
    const executor = createExecutor({
      model,
      summarizer: summarizer.model,
      ...toolPorts(bus, {
        sandboxTimeoutMs: config.SANDBOX_TIMEOUT_MS,
        repairTimeoutMs: config.REPAIR_TIMEOUT_MS,
      }),
      steps: kvStepStore(steps),
      notifyManager: managerNotifier(bus, "execution-done"),
      emit: taskEventPublisher(bus),
      costOf,
      now: () => new Date(),
      limits: {
        contextTokens: config.EXECUTOR_CONTEXT_TOKENS,
        maxToolOutputChars: config.EXECUTOR_MAX_TOOL_OUTPUT_CHARS,
        maxRepairsPerTool: config.EXECUTOR_MAX_REPAIRS,
      },
      logger,
      // Attachments and tool images reach the model from the task workspace.
      workspace: await WorkspaceStore.open(bus),
    });
    const consumer = await consumeRoleWork(
      bus,
      ExecutorRunWork,
      (work, hooks) => executor.handleRun(work, hooks),
      {
        ackWaitMs: config.WORK_ACK_WAIT_MS,
        maxDeliver: config.WORK_MAX_DELIVER,
        concurrency: config.EXECUTOR_CONCURRENCY,
      },
    );
    return { stop: () => consumer.stop() };
  },
});
