import type { Bus, KvBucket } from "@insitu/bus";
import {
  ExecutorRunWork,
  IntegratorRunWork,
  ManagerStepWork,
  ManagerWork,
  type Payload,
  RegistryCatalog,
  RegistryFinishTask,
  RegistrySearch,
  TaskEvents,
  ToolBuildWork,
  ToolName,
  stepKey,
  workMessageId,
} from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import type { z } from "zod";
import type { CatalogRequest } from "./machine.js";
import type { PlanCatalog, ToolCandidate } from "./planner.js";
import type { EffectPort, TaskStateStore } from "./service.js";
import type { Effect, ManagerState } from "./state.js";

/** The task state in the `tasks` KV bucket; CONFLICT from the bus on a lost compare-and-set. */
export function kvTaskStore(kv: KvBucket): TaskStateStore {
  /** A stored state the manager can work with; anything else is quarantined and reads as absent. */
  const usable = async (entry: { key: string; value: ManagerState; revision: number } | undefined) => {
    if (!entry) return undefined;
    const record = (entry.value as Partial<ManagerState> | null)?.record;
    if (
      typeof record !== "object" ||
      record === null ||
      record.taskId !== entry.key ||
      typeof record.status !== "string" ||
      typeof record.createdAt !== "string"
    ) {
      await kv.quarantine(entry.key, entry.revision, "task state without a record for its key");
      return undefined;
    }
    return entry;
  };
  return {
    async get(taskId) {
      const entry = await usable(await kv.get<ManagerState>(taskId));
      return entry ? { state: entry.value, revision: entry.revision } : undefined;
    },
    create: (state) => kv.create(state.record.taskId, state),
    update: (state, revision) => kv.update(state.record.taskId, state, revision),
    async list() {
      const keys = await kv.keys();
      const states: ManagerState[] = [];
      for (const key of keys) {
        const entry = await usable(await kv.get<ManagerState>(key));
        if (entry) states.push(entry.value);
      }
      return states;
    },
  };
}

export function kvStepReader(kv: KvBucket) {
  return async <T>(taskId: string, step: string, schema: z.ZodType<T>): Promise<T | undefined> => {
    const entry = await kv.get(stepKey(taskId, step));
    if (!entry) return undefined;
    const parsed = schema.safeParse(entry.value);
    if (!parsed.success) {
      throw new InsituError(`stored step result ${step} does not match its schema`, {
        code: "STEP_RESULT_INVALID",
        category: ErrorCategory.system,
        details: { taskId, step, issues: parsed.error.issues.slice(0, 5).map((issue) => issue.message) },
      });
    }
    return parsed.data;
  };
}

/** Effects over the bus; each enqueue carries a deterministic id so a repeat is dropped. */
export function busEffects(bus: Bus): EffectPort {
  const enqueueManager = (work: Payload<typeof ManagerWork>) =>
    bus.enqueue(ManagerWork, work, {
      id: workMessageId("manager", work.taskId, `${work.kind}.${work.step}`),
      taskId: work.taskId,
    });
  return {
    enqueueManager,
    async perform(effect: Effect) {
      switch (effect.type) {
        case "plan":
        case "judge":
          return bus.enqueue(ManagerStepWork, effect.payload, {
            id: workMessageId("manager-step", effect.payload.taskId, effect.payload.step),
            taskId: effect.payload.taskId,
          });
        case "build":
          return bus.enqueue(ToolBuildWork, effect.payload, {
            id: workMessageId("build", effect.payload.taskId, effect.payload.step),
            taskId: effect.payload.taskId,
          });
        case "execute":
          return bus.enqueue(ExecutorRunWork, effect.payload, {
            id: workMessageId("execute", effect.payload.taskId, effect.payload.step),
            taskId: effect.payload.taskId,
          });
        case "integrate":
          return bus.enqueue(IntegratorRunWork, effect.payload, {
            id: workMessageId("integrate", effect.payload.taskId, effect.payload.step),
            taskId: effect.payload.taskId,
          });
        case "event":
          return bus.publish(TaskEvents, effect.event, {
            token: effect.event.taskId,
            taskId: effect.event.taskId,
          });
        case "finish-task":
          await bus.request(
            RegistryFinishTask,
            { taskId: effect.taskId, mode: effect.mode ?? "absorb" },
            { taskId: effect.taskId },
          );
          return;
      }
    },
  };
}

/** Registry retrieval: top-k with the task's pool included; never the whole library. */
export function registrySearch(bus: Bus, k: number) {
  return async ({
    query,
    taskId,
    capabilities,
  }: {
    query: string;
    taskId: string;
    capabilities?: string[];
  }): Promise<ToolCandidate[]> => {
    const reply = await bus.request(
      RegistrySearch,
      {
        query: query.slice(0, 8000),
        k,
        taskId,
        mode: "auto",
        ...(capabilities && capabilities.length > 0
          ? { capabilities: capabilities.slice(0, 16).map((capability) => capability.slice(0, 500)) }
          : {}),
      },
      { taskId },
    );
    return reply.hits.map((hit) => ({
      name: hit.name,
      version: hit.hash,
      description: hit.description,
      inputSchema: hit.manifest.inputSchema,
      score: hit.score,
      source: hit.source,
      usage: { calls: hit.usage.calls, successRate: hit.usage.successRate },
    }));
  };
}

/**
 * The library catalog for the plan prompt (registry.catalog). A registry that does not answer it
 * (an older replica) leaves the prompt without a catalog rather than failing the round.
 */
export function registryCatalog(bus: Bus, budgetTokens: number) {
  return async (input: CatalogRequest): Promise<PlanCatalog | undefined> => {
    if (budgetTokens <= 0) return undefined;
    const exclude = (input.exclude ?? []).filter((name) => ToolName.safeParse(name).success).slice(0, 200);
    try {
      const reply = await bus.request(
        RegistryCatalog,
        {
          budgetTokens,
          // The contract bounds these; a long failure report or many candidates are cut, not refused.
          query: input.query.slice(0, 8000),
          taskId: input.taskId,
          ...(input.capabilities?.length
            ? { capabilities: input.capabilities.slice(-16).map((text) => text.slice(0, 500)) }
            : {}),
          // Only names the registry can hold (an external MCP tool's name need not be one).
          ...(exclude.length > 0 ? { exclude } : {}),
        },
        { taskId: input.taskId },
      );
      return {
        text: reply.text,
        total: reply.total,
        omitted: reply.omitted,
        entries: reply.entries.map((entry) => ({ name: entry.name, version: entry.hash })),
      };
    } catch (error) {
      const typed = InsituError.from(error);
      if (typed.retryable) throw typed;
      return undefined;
    }
  };
}
