import { IntegratorRunWork, type TaskEvent } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineRoleStep } from "./role-step.js";
import { memoryStepPorts } from "./testing.js";

const work = { taskId: "t1", step: "integrate", question: "q", report: "r" };
const Result = z.object({ text: z.string() }).strict();
type Result = z.infer<typeof Result>;

/** A step over the integrator's queue whose run is the test's; `runs` counts calls. */
function step(run: () => Promise<Result>) {
  const counter = { runs: 0 };
  const event = (kind: "tool-build-start" | "tool-build-end", time: string): TaskEvent =>
    ({
      kind,
      taskId: work.taskId,
      time,
      round: 1,
      name: "x",
      ...(kind === "tool-build-start" ? { description: "d" } : { ok: true }),
    }) as TaskEvent;
  const defined = defineRoleStep({
    work: IntegratorRunWork,
    result: Result,
    kind: "integration-done",
    run: async () => {
      counter.runs += 1;
      return run();
    },
    onFailure: (_work, failure) => ({ text: `failed: ${failure.code}` }),
    announce: {
      start: (_work, time) => event("tool-build-start", time),
      end: (_work, _result, time) => event("tool-build-end", time),
    },
  });
  return { defined, counter };
}

describe("role step kit", () => {
  it("runs, stores the result, then tells the manager, then announces the end", async () => {
    const { defined } = step(async () => ({ text: "done" }));
    const memory = memoryStepPorts();
    const result = await defined.handler(memory.ports)(work);
    expect(result).toEqual({ text: "done" });
    expect(memory.log).toEqual([
      "event tool-build-start",
      "put integrate",
      "notify integrate",
      "event tool-build-end",
    ]);
    expect(memory.stored.get("t1.integrate")).toEqual({ text: "done" });
  });

  it("a redelivery with a stored result only re-announces it: no run, no events", async () => {
    const { defined, counter } = step(async () => ({ text: "done" }));
    const memory = memoryStepPorts();
    const handle = defined.handler(memory.ports);
    const first = await handle(work);
    const again = await handle(work);
    expect(again).toEqual(first);
    expect(counter.runs).toBe(1);
    expect(memory.log.slice(4)).toEqual(["notify integrate"]);
  });

  it("a stored value that is not a result does not count as done", async () => {
    const { defined, counter } = step(async () => ({ text: "done" }));
    const memory = memoryStepPorts();
    memory.stored.set("t1.integrate", { other: 1 });
    expect(await defined.handler(memory.ports)(work)).toEqual({ text: "done" });
    expect(counter.runs).toBe(1);
  });

  it("throws retryable trouble back to the bus, and stores the failure on the last delivery", async () => {
    const down = async (): Promise<never> => {
      throw new InsituError("sandbox unreachable", { code: "UNAVAILABLE", retryable: true });
    };
    const { defined } = step(down);
    const memory = memoryStepPorts();
    const handle = defined.handler(memory.ports);
    await expect(handle(work)).rejects.toThrow(/sandbox unreachable/);
    expect(memory.stored.size).toBe(0);
    expect(memory.log).toEqual(["event tool-build-start"]);
    expect(await handle(work, { lastDelivery: true })).toEqual({ text: "failed: UNAVAILABLE" });
    expect(memory.log.slice(1)).toEqual([
      "event tool-build-start",
      "put integrate",
      "notify integrate",
      "event tool-build-end",
    ]);
  });

  it("stores an error that will not go away as the final result at once", async () => {
    const { defined } = step(async () => {
      throw new InsituError("bad draft", { code: "LLM_INVALID_OUTPUT" });
    });
    const memory = memoryStepPorts();
    expect(await defined.handler(memory.ports)(work)).toEqual({ text: "failed: LLM_INVALID_OUTPUT" });
    expect(memory.stored.get("t1.integrate")).toEqual({ text: "failed: LLM_INVALID_OUTPUT" });
  });

  it("a task event that cannot be published does not fail the step", async () => {
    const { defined } = step(async () => ({ text: "done" }));
    const memory = memoryStepPorts({
      emit: async () => {
        throw new Error("events stream down");
      },
    });
    expect(await defined.handler(memory.ports)(work)).toEqual({ text: "done" });
    expect(memory.log).toEqual(["put integrate", "notify integrate"]);
  });

  it("does not tell the manager when the result could not be stored", async () => {
    const { defined } = step(async () => ({ text: "done" }));
    const memory = memoryStepPorts();
    memory.ports.steps.put = async () => {
      throw new InsituError("kv down", { code: "UNAVAILABLE", retryable: true });
    };
    await expect(defined.handler(memory.ports)(work)).rejects.toThrow(/kv down/);
    expect(memory.log).toEqual(["event tool-build-start"]);
  });

  it("a step its task no longer awaits is dropped: nothing run, stored, told or announced", async () => {
    const runs: string[] = [];
    const defined = defineRoleStep({
      work: IntegratorRunWork,
      result: Result,
      kind: "integration-done",
      load: async (message) => (message.question === "awaited" ? { round: 2 } : undefined),
      run: async (_work, _context, loaded) => {
        runs.push(`round ${loaded.round}`);
        return { text: "done" };
      },
      onFailure: () => ({ text: "failed" }),
    });
    const memory = memoryStepPorts();
    const handle = defined.handler(memory.ports);
    expect(await handle({ ...work, question: "moved on" })).toBeUndefined();
    expect(memory.log).toEqual([]);
    expect(runs).toEqual([]);
    expect(await handle({ ...work, question: "awaited" })).toEqual({ text: "done" });
    expect(runs).toEqual(["round 2"]);
    expect(memory.log).toEqual(["put integrate", "notify integrate"]);
  });

  it("tells the manager the kind the message calls for, on the first run and on a replay", async () => {
    const told: string[] = [];
    const defined = defineRoleStep({
      work: IntegratorRunWork,
      result: Result,
      kind: (message) => (message.question === "plan" ? "plan-done" : "judge-done"),
      run: async () => ({ text: "done" }),
      onFailure: () => ({ text: "failed" }),
    });
    const memory = memoryStepPorts({
      notifyManager: async (_taskId, step, kind) => {
        told.push(`${kind} ${step}`);
      },
    });
    const handle = defined.handler(memory.ports);
    await handle({ ...work, question: "plan" });
    await handle({ ...work, question: "plan" });
    await handle({ ...work, step: "judge", question: "judge" });
    expect(told).toEqual(["plan-done integrate", "plan-done integrate", "judge-done judge"]);
  });
});
