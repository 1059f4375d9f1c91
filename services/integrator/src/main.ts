import { IntegratorRunWork, TASK_STEPS_BUCKET } from "@insitu/contracts";
import { runService } from "@insitu/runtime";
import { IntegratorConfigSchema } from "./config.js";
import { kvStepStore, managerNotifier, modelForRole, consumeRoleWork, busRateLimitGate } from "@insitu/roles";
import { createIntegrator } from "./service.js";

await runService({
  name: "integrator",
  config: IntegratorConfigSchema,
  async start({ config, bus, logger, metrics }) {
    const gate = await busRateLimitGate(bus);
    const { model, costOf } = modelForRole("integrator", config.INSITU_SCRIPT, process.env, {
      metrics,
      gate,
    });
    const steps = await bus.kv(TASK_STEPS_BUCKET);
    const integrator = createIntegrator({
      model,
      steps: kvStepStore(steps),
      notifyManager: managerNotifier(bus, "integration-done"),
      costOf,
      logger,
    });
    const consumer = await consumeRoleWork(
      bus,
      IntegratorRunWork,
      (work, hooks) => integrator.handleRun(work, hooks),
      {
        ackWaitMs: config.WORK_ACK_WAIT_MS,
        maxDeliver: config.WORK_MAX_DELIVER,
        concurrency: config.INTEGRATOR_CONCURRENCY,
      },
    );
    return { stop: () => consumer.stop() };
  },
});
