import { endpoint } from "@insitu/bus";
import { ToolRepair } from "@insitu/contracts";
import { runService } from "@insitu/runtime";
import { loadApprovalPolicy } from "@insitu/roles";
import { registryPorts, sandboxPorts } from "./adapters.js";
import { ToolDeveloperConfigSchema } from "./config.js";
import { busRateLimitGate, modelForRole } from "@insitu/roles";
import { vettedLibraries } from "./libraries.js";
import { createToolDeveloper } from "./service.js";

await runService({
  name: "tool-developer",
  config: ToolDeveloperConfigSchema,
  async start({ config, bus, logger, metrics }) {
    const gate = await busRateLimitGate(bus);
    const { model, costOf } = modelForRole("tool-developer", config.INSITU_SCRIPT, process.env, {
      metrics,
      gate,
    });
    const now = () => new Date();
    // What a build does when its version waits for review (ADR 0130); a bad policy stops the service.
    const approvalPolicy = loadApprovalPolicy();
    const developer = createToolDeveloper({
      model,
      ...sandboxPorts(bus, config.SANDBOX_TIMEOUT_MS, {
        retryWindowMs: config.SANDBOX_RETRY_WINDOW_MS,
        logger,
      }),
      registry: registryPorts(bus, now),
      costOf,
      libraries: vettedLibraries(config.TOOL_LIBRARIES),
      maxAttempts: config.BUILD_ATTEMPTS,
      review: { onReview: approvalPolicy.onReview, reviewWaitMs: approvalPolicy.reviewWaitMs, pollMs: 500 },
      now,
    });
    const served = await bus.serve({
      name: "tool-developer",
      version: "0.1.0",
      description: "Repairs task-private tools from their failing calls.",
      endpoints: [endpoint(ToolRepair, (data) => developer.handleRepair(data))],
      concurrency: config.BUILD_CONCURRENCY,
    });
    // Consumes ToolBuildWork (the step kit's queue, see createToolDeveloper).
    const consumer = await developer.build.start(bus, {
      logger,
      now,
      ackWaitMs: config.WORK_ACK_WAIT_MS,
      maxDeliver: config.WORK_MAX_DELIVER,
      concurrency: config.BUILD_CONCURRENCY,
    });
    return {
      async stop() {
        await consumer.stop();
        await served.stop();
      },
    };
  },
});
