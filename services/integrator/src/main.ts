import { runService } from "@insitu/runtime";
import { busRateLimitGate, modelForRole } from "@insitu/roles";
import { IntegratorConfigSchema } from "./config.js";
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
    // Consumes IntegratorRunWork (the step kit's queue, see createIntegrator).
    const consumer = await createIntegrator({ model, costOf }).start(bus, {
      logger,
      ackWaitMs: config.WORK_ACK_WAIT_MS,
      maxDeliver: config.WORK_MAX_DELIVER,
      concurrency: config.INTEGRATOR_CONCURRENCY,
    });
    return { stop: () => consumer.stop() };
  },
});
