import { hostname } from "node:os";
import { CallOnce, endpoint, kvCallClaims, objectOutcomeStore } from "@insitu/bus";
import {
  ExternalToolsList,
  SigningKeyEnv,
  signingKeyConfig,
  TOOL_CALL_CLAIMS_BUCKET,
  TOOL_CALL_CLAIMS_TTL_MS,
  TOOL_CALL_RESULTS_BUCKET,
  TOOL_CALL_RESULTS_TTL_MS,
} from "@insitu/contracts";
import { parseRecordedOutcome } from "@insitu/tool-kit";
import { WorkspaceStore } from "@insitu/files";
import { McpClientPool, loadMcpServersConfig } from "@insitu/mcp";
import { runService } from "@insitu/runtime";
import { loadApprovalPolicy } from "@insitu/roles";
import { toolPorts } from "./adapters.js";
import { ExecutorConfigSchema } from "./config.js";
import { busRateLimitGate, modelForRole } from "@insitu/roles";
import { withExternalTools } from "./external-tools.js";
import { createExecutor } from "./service.js";

await runService({
  name: "executor",
  // The signing key is required here, not in ExecutorConfigSchema: only the running service signs.
  config: ExecutorConfigSchema.extend({
    [SigningKeyEnv.executor]: signingKeyConfig(SigningKeyEnv.executor, "the executor"),
  }),
  async start({ config, bus, logger, metrics }) {
    const gate = await busRateLimitGate(bus);
    const { model, costOf } = modelForRole("executor", config.INSITU_SCRIPT, process.env, { metrics, gate });
    // The summarizer role (context summaries, output reduction) falls back to the executor's model in a scripted run.
    const summarizer = config.INSITU_SCRIPT
      ? { model, costOf }
      : modelForRole("summarizer", undefined, process.env, { metrics, gate });
    // The operator's MCP servers (docs/adr/0085): their tools are external tools, never library tools.
    const mcpPool = new McpClientPool(
      config.INSITU_MCP_CONFIG ? loadMcpServersConfig(config.INSITU_MCP_CONFIG) : { servers: {} },
      { env: process.env, onLog: (message, details) => logger.info(message, details) },
    );
    // External calls are keyed like the sandbox's (ADR 0094): a redelivered round gets the
    // recorded outcome instead of calling the MCP server again.
    const externalOnce = new CallOnce(
      objectOutcomeStore(
        await bus.objects(TOOL_CALL_RESULTS_BUCKET, { ttlMs: TOOL_CALL_RESULTS_TTL_MS }),
        parseRecordedOutcome,
      ),
      {
        claims: kvCallClaims(
          await bus.kv(TOOL_CALL_CLAIMS_BUCKET, { ttlMs: TOOL_CALL_CLAIMS_TTL_MS }),
          `${hostname()}:${process.pid}`,
          { logger },
        ),
        logger,
      },
    );
    const builtPorts = toolPorts(bus, {
      sandboxTimeoutMs: config.SANDBOX_TIMEOUT_MS,
      repairTimeoutMs: config.REPAIR_TIMEOUT_MS,
      retryWindowMs: config.SANDBOX_RETRY_WINDOW_MS,
      logger,
      // Loaded once at start: a policy that does not parse stops the executor (INVALID_CONFIG).
      approvalPolicy: loadApprovalPolicy(),
      signer: config.EXECUTOR_SIGNING_KEY,
    });
    const executor = createExecutor({
      model,
      summarizer: summarizer.model,
      ...withExternalTools(builtPorts, mcpPool, bus, externalOnce),
      costOf,
      limits: {
        contextTokens: config.EXECUTOR_CONTEXT_TOKENS,
        maxToolOutputChars: config.EXECUTOR_MAX_TOOL_OUTPUT_CHARS,
        maxRepairsPerTool: config.EXECUTOR_MAX_REPAIRS,
      },
      // Attachments and tool images reach the model from the task workspace.
      workspace: await WorkspaceStore.open(bus),
    });
    // Consumes ExecutorRunWork (the step kit's queue, see createExecutor).
    const consumer = await executor.start(bus, {
      logger,
      ackWaitMs: config.WORK_ACK_WAIT_MS,
      maxDeliver: config.WORK_MAX_DELIVER,
      concurrency: config.EXECUTOR_CONCURRENCY,
    });
    const external = await bus.serve({
      name: "executor",
      version: "0.1.0",
      description: "External (MCP) tools the executor can call for tasks.",
      endpoints: [endpoint(ExternalToolsList, () => mcpPool.list())],
    });
    return {
      async stop() {
        await consumer.stop();
        await external.stop();
        await mcpPool.close();
      },
    };
  },
});
