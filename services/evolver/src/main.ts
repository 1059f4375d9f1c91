import { EVOLVER_BUCKET, EvolverWork, SigningKeyEnv, trustedKeysConfig } from "@insitu/contracts";
import { busRateLimitGate, consumeRoleWork, modelForRole } from "@insitu/roles";
import { runService } from "@insitu/runtime";
import { vettedLibraries } from "@insitu/tool-developer";
import { chooseEmbeddings } from "@insitu/registry";
import { busPorts } from "./adapters.js";
import { EvolverConfigSchema } from "./config.js";
import { CandidateVectors } from "./embeddings.js";
import { createEvolver } from "./service.js";

await runService({
  name: "evolver",
  config: EvolverConfigSchema.extend({
    [SigningKeyEnv.trustedSandbox]: trustedKeysConfig(
      SigningKeyEnv.trustedSandbox,
      "the sandboxes (test reports)",
    ),
  }),
  async start({ config, bus, logger, metrics }) {
    // insitu_llm_* series and shared rate-limit cooldowns, like every other role service.
    const gate = await busRateLimitGate(bus);
    const role = modelForRole("evolver", config.INSITU_SCRIPT, process.env, { metrics, gate });
    const state = await bus.kv(EVOLVER_BUCKET);
    // The registry's way of choosing an embedder, metered under this role.
    const embedder = chooseEmbeddings(config.EVOLVER_EMBEDDINGS, { logger, metrics, role: "evolver" });
    logger.info("pre-clustering", {
      similarity: embedder ? `lexical + embeddings (${embedder.model})` : "lexical",
    });
    const ports = await busPorts({
      bus,
      role,
      state,
      libraries: vettedLibraries(config.TOOL_LIBRARIES),
      buildAttempts: config.BUILD_ATTEMPTS,
      sandboxTimeoutMs: config.SANDBOX_TIMEOUT_MS,
      trustedSandboxKeys: config.TRUSTED_SANDBOX_KEYS,
      budget: { maxTokens: config.EVOLVER_BARRIER_TOKENS, callTimeoutMs: config.EVOLVER_CALL_TIMEOUT_MS },
      logger,
      ...(embedder
        ? { embeddings: new CandidateVectors(embedder, { threshold: config.EVOLVER_EMBEDDING_THRESHOLD }) }
        : {}),
    });
    const evolver = createEvolver({ bus, state, ports, logger });
    const consumer = await consumeRoleWork(
      bus,
      EvolverWork,
      async (work, hooks) => {
        await evolver.handleBarrier(work.barrierId, hooks);
      },
      {
        ackWaitMs: config.WORK_ACK_WAIT_MS,
        maxDeliver: config.WORK_MAX_DELIVER,
        concurrency: config.EVOLVER_CONCURRENCY,
      },
    );
    // Online use without batches: a barrier on a schedule. The id is the interval's start, so
    // replicas enqueuing the same slot run it once (JetStream drops the duplicate message id).
    let timer: NodeJS.Timeout | undefined;
    if (config.EVOLVE_INTERVAL_MS > 0) {
      timer = setInterval(() => {
        const slot = Math.floor(Date.now() / config.EVOLVE_INTERVAL_MS) * config.EVOLVE_INTERVAL_MS;
        const barrierId = `scheduled-${slot}`;
        bus
          .enqueue(EvolverWork, { barrierId, reason: "schedule" }, { id: `evolver:${barrierId}` })
          .catch((error: unknown) => logger.warn("could not enqueue the scheduled barrier", { error }));
      }, config.EVOLVE_INTERVAL_MS);
      timer.unref();
    }
    return {
      async stop() {
        clearInterval(timer);
        await consumer.stop();
      },
    };
  },
});
