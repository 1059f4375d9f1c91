import { sampleTool } from "@insitu/tool-kit/testing";
import { describe, expect, it } from "vitest";
import { repairCanHelp } from "./react.js";

describe("repairCanHelp", () => {
  const manifest = {
    ...sampleTool("search_web").manifest,
    permissions: { network: ["api.example.com:443"], secrets: ["SEARCH_KEY"] },
  };
  const denied = (kind: "net" | "env", target: string) =>
    ({
      status: "PERMISSION_DENIED",
      permission: { kind, target },
      message: "denied",
      durationMs: 1,
    }) as never;

  it("does not ask for a repair when the operator refused a permission the tool declares", () => {
    expect(repairCanHelp(denied("net", "api.example.com:443"), manifest)).toBe(false);
    expect(repairCanHelp(denied("env", "SEARCH_KEY"), manifest)).toBe(false);
  });

  it("asks for one when the tool touched something it never declared", () => {
    expect(repairCanHelp(denied("net", "other.example.com:443"), manifest)).toBe(true);
    expect(repairCanHelp({ status: "CRASH", message: "boom", durationMs: 1 } as never, manifest)).toBe(true);
  });
});
