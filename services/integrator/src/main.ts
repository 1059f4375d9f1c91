import { IntegratorRunWork, ManagerWork, TASK_STEPS_BUCKET, stepKey, workMessageId } from "@insitu/contracts";
import { runService } from "@insitu/runtime";
import { IntegratorConfigSchema } from "./config.js";
import { modelForRole } from "./model.js";
import { createIntegrator } from "./service.js";

await runService({
  name: "integrator",
  config: IntegratorConfigSchema,
  async start({ config, bus, logger }) {
    const { model, costOf } = modelForRole("integrator", config.INSITU_SCRIPT);
    const steps = await bus.kv(TASK_STEPS_BUCKET);
    const integrator = createIntegrator({
      model,
      steps: {
        get: async (taskId, step) => (await steps.get(stepKey(taskId, step)))?.value,
        put: async (taskId, step, value) => {
          await steps.put(stepKey(taskId, step), value);
        },
      },
      notifyManager: (taskId, step) =>
        bus.enqueue(
          ManagerWork,
          { taskId, kind: "integration-done", step },
          { id: workMessageId("manager", taskId, `integration-done.${step}`), taskId },
        ),
      costOf,
      logger,
    });
    const consumer = await bus.consume(
      IntegratorRunWork,
      async (work, context) => {
        await integrator.handleRun(work, {
          signal: context.signal,
          lastDelivery: context.deliveryCount >= config.WORK_MAX_DELIVER,
        });
      },
      {
        ackWaitMs: config.WORK_ACK_WAIT_MS,
        maxDeliver: config.WORK_MAX_DELIVER,
        concurrency: config.INTEGRATOR_CONCURRENCY,
        backoffMs: [500, 1000, 2000, 5000],
      },
    );
    return { stop: () => consumer.stop() };
  },
});
