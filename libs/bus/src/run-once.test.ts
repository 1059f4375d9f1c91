import { describe, expect, it } from "vitest";
import { CallOnce, type OutcomeStore } from "./run-once.js";

/** A FAKE store in memory (the Object Store one is exercised by run-once.int.test.ts and the e2e fail-fast test). */
function memoryStore(): OutcomeStore<Outcome> & { records: Map<string, Outcome> } {
  const records = new Map<string, Outcome>();
  return {
    records,
    async get(key) {
      return records.get(key);
    },
    async put(key, outcome) {
      records.set(key, outcome);
    },
  };
}

/** Stands for a tool outcome: the runner does not look inside what it records. */
interface Outcome {
  status: "ok";
  output: unknown;
  durationMs: number;
}
const ok = (output: unknown): Outcome => ({ status: "ok", output, durationMs: 5 });

describe("CallOnce", () => {
  it("runs a keyed call once; a repeat gets the recorded outcome and the tool does not run again", async () => {
    const store = memoryStore();
    const once = new CallOnce(store);
    let sideEffects = 0;
    const call = async () => ok({ count: ++sideEffects });
    const first = await once.run("task.step.1.0.abc", call);
    // A new sandbox process after a restart: only the store is shared.
    const second = await new CallOnce(store).run("task.step.1.0.abc", call);
    expect(sideEffects).toBe(1);
    expect(second).toEqual(first);
    expect(store.records.get("task.step.1.0.abc")).toEqual(first);
  });

  it("a repeat that arrives while the call still runs joins it", async () => {
    const once = new CallOnce(memoryStore());
    let sideEffects = 0;
    let finish: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const call = async () => {
      sideEffects++;
      await gate;
      return ok("done");
    };
    const first = once.run("k", call);
    const repeat = once.run("k", call);
    finish();
    expect(await Promise.all([first, repeat])).toEqual([ok("done"), ok("done")]);
    expect(sideEffects).toBe(1);
  });

  it("different keys, and calls without a key, run every time", async () => {
    const once = new CallOnce(memoryStore());
    let runs = 0;
    const call = async () => ok(++runs);
    await once.run("a", call);
    await once.run("b", call);
    await once.run(undefined, call);
    await once.run(undefined, call);
    expect(runs).toBe(4);
  });

  it("a store that fails does not stop the call, and a call that throws records nothing", async () => {
    const broken: OutcomeStore<Outcome> = {
      get: async () => {
        throw new Error("jetstream down");
      },
      put: async () => {
        throw new Error("jetstream down");
      },
    };
    expect(await new CallOnce(broken).run("k", async () => ok(1))).toEqual(ok(1));
    const store = memoryStore();
    const once = new CallOnce(store);
    await expect(once.run("k", async () => Promise.reject(new Error("sandbox busy")))).rejects.toThrow(
      /busy/,
    );
    expect(store.records.size).toBe(0);
    expect(await once.run("k", async () => ok("second try"))).toEqual(ok("second try"));
  });
});
