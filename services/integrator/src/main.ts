import { IntegratorRunWork, TASK_STEPS_BUCKET } from "@insitu/contracts";
import { runService } from "@insitu/runtime";
import { IntegratorConfigSchema } from "./config.js";
import { kvStepStore, managerNotifier, modelForRole } from "@insitu/roles";
import { createIntegrator } from "./service.js";

await runService({
  name: "integrator",
  config: IntegratorConfigSchema,
  async start({ config, bus, logger }) {
    const { model, costOf } = modelForRole("integrator", config.INSITU_SCRIPT);
    const steps = await bus.kv(TASK_STEPS_BUCKET);
    const integrator = createIntegrator({
      model,
      steps: kvStepStore(steps),
      notifyManager: managerNotifier(bus, "integration-done"),
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
