/**
 * FAKE ports for unit tests of role steps (the `@insitu/roles/testing` door): an in-memory step
 * store, a manager notifier and an event sink that record the order of their effects.
 */
import type { TaskEvent } from "@insitu/contracts";
import { createLogger } from "@insitu/telemetry";
import type { StepPorts } from "./role-step.js";
import type { StepStore } from "./steps.js";

export interface MemorySteps {
  ports: StepPorts;
  /** Stored results by `taskId.step`. */
  stored: Map<string, unknown>;
  /** Effects in order: `put <step>`, `notify <step>`, `event <kind>`. */
  log: string[];
  events: TaskEvent[];
}

/** A step store in memory; `log` (when given) records each put. */
export function memoryStepStore(stored = new Map<string, unknown>(), log?: string[]): StepStore {
  return {
    get: async (taskId, step) => stored.get(`${taskId}.${step}`),
    put: async (taskId, step, value) => {
      log?.push(`put ${step}`);
      stored.set(`${taskId}.${step}`, value);
    },
  };
}

/** FAKE step ports; `overrides` replace single ports (e.g. an emit that fails). */
export function memoryStepPorts(overrides: Partial<StepPorts> = {}): MemorySteps {
  const stored = new Map<string, unknown>();
  const log: string[] = [];
  const events: TaskEvent[] = [];
  const ports: StepPorts = {
    steps: memoryStepStore(stored, log),
    notifyManager: async (_taskId, step, _kind) => {
      log.push(`notify ${step}`);
    },
    emit: async (event) => {
      log.push(`event ${event.kind}`);
      events.push(event);
    },
    now: () => new Date(),
    logger: createLogger({ service: "test", level: "error" }),
    ...overrides,
  };
  return { ports, stored, log, events };
}
