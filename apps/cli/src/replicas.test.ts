import { describe, expect, it } from "vitest";
import { parseReplicas } from "./commands/up.js";

describe("insitu up --replicas", () => {
  it("parses service=count pairs", () => {
    expect(parseReplicas(undefined)).toBeUndefined();
    expect(parseReplicas("executor=3, sandbox=2")).toEqual({ executor: 3, sandbox: 2 });
  });

  it("answers a clear message for anything else", () => {
    for (const bad of ["executor", "executor=0", "executor=17", "Executor=2", "executor=two"]) {
      expect(parseReplicas(bad), bad).toMatch(/--replicas expects service=count/);
    }
  });
});
