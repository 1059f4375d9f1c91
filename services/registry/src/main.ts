import { loadApprovalPolicy } from "@insitu/roles";
import { SigningKeyEnv, trustedKeysConfig } from "@insitu/contracts";
import { runService } from "@insitu/runtime";
import { RegistryConfigSchema } from "./config.js";
import { registryEndpoints } from "./endpoints.js";
import { ExternalUsage, EXTERNAL_USAGE_BUCKET, externalUsageEndpoints } from "./external-usage.js";
import { registerRegistryMetrics } from "./metrics.js";
import { Registry } from "./registry.js";
import { HashingEmbedder, chooseEmbeddings } from "./retrieval/embedding.js";

await runService({
  name: "registry",
  version: "0.1.0",
  config: RegistryConfigSchema.extend({
    [SigningKeyEnv.trustedSandbox]: trustedKeysConfig(
      SigningKeyEnv.trustedSandbox,
      "the sandboxes (test reports)",
    ),
    [SigningKeyEnv.trustedUsage]: trustedKeysConfig(
      SigningKeyEnv.trustedUsage,
      "the executors and gateways (usage outcomes)",
    ),
  }),
  async start({ config, bus, logger, metrics }) {
    const embeddings = chooseEmbeddings(config.REGISTRY_EMBEDDINGS, { logger, metrics, role: "registry" });
    const fuseEmbeddings =
      config.REGISTRY_FUSION === "auto"
        ? !(embeddings instanceof HashingEmbedder)
        : config.REGISTRY_FUSION === "on";
    const registry = await Registry.open(bus, {
      logger,
      approvalPolicy: loadApprovalPolicy(),
      fuseEmbeddings,
      trust: { sandbox: config.TRUSTED_SANDBOX_KEYS, usage: config.TRUSTED_USAGE_KEYS },
      ...(embeddings ? { embeddings } : {}),
    });
    registerRegistryMetrics(metrics, registry, config.REGISTRY_TOP_TOOLS, {
      window: config.REGISTRY_EGL_WINDOW,
      batchSize: config.REGISTRY_BATCH_SIZE,
    });
    const service = await bus.serve({
      name: "registry",
      version: "0.1.0",
      description: "Versioned tool library: task pools, snapshots, retrieval, usage and convergence stats.",
      endpoints: [
        ...registryEndpoints(registry),
        ...externalUsageEndpoints(new ExternalUsage(await bus.kv(EXTERNAL_USAGE_BUCKET))),
      ],
      concurrency: config.REGISTRY_CONCURRENCY,
    });
    logger.info("registry ready", {
      snapshot: registry.view.snapshotNumber,
      librarySize: registry.view.currentTools.size,
      versions: registry.view.versions.size,
      trustedSandboxKeys: [...config.TRUSTED_SANDBOX_KEYS.keys()],
      trustedUsageKeys: [...config.TRUSTED_USAGE_KEYS.keys()],
      retrieval: embeddings && fuseEmbeddings ? `hybrid (${embeddings.model})` : "lexical",
    });
    return {
      stop: async () => {
        await service.stop();
        registry.stop();
      },
    };
  },
});
