import { hostname } from "node:os";
import { CallOnce, endpoint, kvCallClaims } from "@insitu/bus";
import {
  RegistryCodeGet,
  SandboxCheck,
  SandboxExec,
  SandboxTest,
  SigningKeyEnv,
  signingKeyConfig,
  TOOL_CALL_CLAIMS_BUCKET,
  TOOL_CALL_CLAIMS_TTL_MS,
  TOOL_CALL_RESULTS_BUCKET,
  TOOL_CALL_RESULTS_TTL_MS,
} from "@insitu/contracts";
import { WorkspaceStore } from "@insitu/files";
import { runService } from "@insitu/runtime";
import { objectCallResultStore } from "./call-results.js";
import { Checker } from "./check.js";
import { CodeCache } from "./code-cache.js";
import { SandboxConfigSchema, buildPolicy, forcedMechanism } from "./config.js";
import { detectEnforcement } from "./enforcement.js";
import { createHandlers } from "./handlers.js";
import { assertExactLimits } from "./limits-report.js";
import { registerSandboxMetrics } from "./metrics.js";
import { Sandbox, vettedSpecifiers } from "./sandbox.js";
import { toolResolver } from "./tool-code.js";

const running = await runService({
  name: "sandbox",
  // The signing key is required here, not in SandboxConfigSchema: only the running service signs.
  config: SandboxConfigSchema.extend({
    [SigningKeyEnv.sandbox]: signingKeyConfig(SigningKeyEnv.sandbox, "the sandbox"),
  }),
  async start({ config, bus, logger, metrics }) {
    const sandbox = new Sandbox({
      policy: buildPolicy(config, process.env),
      // Every tool request, forwarded or refused: tool, version, task, host, method, status, bytes.
      egress: {
        log: (entry) =>
          entry.denied ? logger.warn("egress denied", { ...entry }) : logger.info("egress", { ...entry }),
        maxBytesPerCall: config.SANDBOX_EGRESS_MAX_BYTES,
      },
      denoPath: config.SANDBOX_DENO_PATH,
      concurrency: config.SANDBOX_CONCURRENCY,
      maxQueue: config.SANDBOX_MAX_QUEUE,
      warm: {
        perProfile: config.SANDBOX_WARM_PER_PROFILE,
        maxPerProfile: config.SANDBOX_WARM_MAX_PER_PROFILE,
        maxProfiles: config.SANDBOX_WARM_PROFILES,
      },
      enforcement: detectEnforcement({ forceMechanism: forcedMechanism(config) }),
      workTmpfsBytes: config.SANDBOX_WORK_TMPFS_MB === 0 ? false : config.SANDBOX_WORK_TMPFS_MB * 1024 * 1024,
      workQuota: {
        maxBytes: config.SANDBOX_WORK_QUOTA_MB * 1024 * 1024,
        maxFiles: config.SANDBOX_WORK_QUOTA_FILES,
      },
      // Task workspaces live in JetStream, so any replica can run any call of a task.
      workspace: await WorkspaceStore.open(bus),
    });
    const limits = sandbox.limitsReport();
    if (config.SANDBOX_REQUIRE_EXACT_LIMITS) {
      try {
        assertExactLimits(limits);
      } catch (error) {
        await sandbox.close();
        throw error;
      }
    }
    logger.info("sandbox limits", {
      mechanism: sandbox.enforcement.mechanism,
      reason: sandbox.enforcement.reason,
      workStorage: sandbox.workStorage,
      degraded: limits.degraded,
      cgroupV2: limits.cgroupV2.detail,
      deno: sandbox.environment.denoPath,
      concurrency: config.SANDBOX_CONCURRENCY,
      warmPerProfile: config.SANDBOX_WARM_PER_PROFILE,
      vetted: vettedSpecifiers(sandbox.environment),
    });
    const sandboxMetrics = registerSandboxMetrics(metrics, sandbox);
    const checker = new Checker(sandbox, {
      allowedSpecifiers: vettedSpecifiers(sandbox.environment),
      timeoutMs: config.SANDBOX_CHECK_TIMEOUT_MS,
      typeChecker: config.SANDBOX_TYPE_CHECKER,
    });
    // Load the declarations now, not in the first build (a failure is reported by that build).
    void checker.warm().catch(() => undefined);
    // Registered tools come by code hash; their code is fetched once per hash (ADR 0160).
    const codeCache = new CodeCache(config.SANDBOX_CODE_CACHE_MB * 1024 * 1024);
    const resolveTool = toolResolver(codeCache, async (version, codeHash) => {
      const { code, manifest } = await bus.request(RegistryCodeGet, { version, codeHash });
      return { code, manifest };
    });
    const handlers = createHandlers(sandbox, checker, config.SANDBOX_SIGNING_KEY, resolveTool);
    logger.info("sandbox signs test reports", { keyId: config.SANDBOX_SIGNING_KEY.keyId });
    // Keyed calls run at most once across replicas (ADR 0094); records are kept a day, far past
    // any redelivery, claims an hour (a claim is renewed every second while its call runs).
    const callOnce = new CallOnce(
      objectCallResultStore(await bus.objects(TOOL_CALL_RESULTS_BUCKET, { ttlMs: TOOL_CALL_RESULTS_TTL_MS })),
      {
        claims: kvCallClaims(
          await bus.kv(TOOL_CALL_CLAIMS_BUCKET, { ttlMs: TOOL_CALL_CLAIMS_TTL_MS }),
          `${hostname()}:${process.pid}`,
          {
            logger,
          },
        ),
        logger,
      },
    );
    const served = await bus.serve({
      name: "sandbox",
      version: "0.1.0",
      description: "Runs tool code in Deno with least privilege and hard limits.",
      // Admission inside the sandbox bounds executions and queues the rest; the bus only has to
      // hand requests over.
      concurrency: config.SANDBOX_CONCURRENCY + config.SANDBOX_MAX_QUEUE,
      endpoints: [
        endpoint(SandboxExec, (data, context) =>
          callOnce.run(data.callKey, () => handlers.exec({ ...data, taskId: context.taskId })),
        ),
        endpoint(SandboxCheck, async (data) => {
          const result = await handlers.check(data);
          sandboxMetrics.countCheck(result.cached, result.ok);
          return result;
        }),
        endpoint(SandboxTest, (data) => handlers.test(data)),
      ],
    });
    return {
      // Which limits are exact and which degraded (the same report as the startup log line).
      http: (request, response) => {
        if (request.method !== "GET" || request.url?.split("?")[0] !== "/limits") return false;
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify(sandbox.limitsReport()));
        return true;
      },
      stop: async () => {
        await served.stop();
        await checker.close();
        await sandbox.close();
      },
    };
  },
});
process.stdout.write(`http ${running.httpUrl}\n`);
