import { describe, expect, it } from "vitest";
import { closest, helpText, numberOption, parseCommandLine } from "./args.js";

describe("parseCommandLine", () => {
  it("parses a command with a positional and options", () => {
    expect(parseCommandLine(["ask", "What is 2+2?", "--json", "--rounds", "3"])).toEqual({
      kind: "command",
      command: "ask",
      values: { json: true, rounds: "3" },
      positionals: ["What is 2+2?"],
    });
  });

  it("gives help for no arguments, --help, `help <command>` and `<command> --help`", () => {
    expect(parseCommandLine([])).toEqual({ kind: "help" });
    expect(parseCommandLine(["--help"])).toEqual({ kind: "help" });
    expect(parseCommandLine(["help", "ask"])).toEqual({ kind: "help", command: "ask" });
    expect(parseCommandLine(["status", "-h"])).toEqual({ kind: "help", command: "status" });
  });

  it("suggests the closest command for a typo", () => {
    expect(parseCommandLine(["stauts"])).toEqual({
      kind: "error",
      message: 'unknown command "stauts" — did you mean "status"?',
    });
    expect(parseCommandLine(["frobnicate"])).toMatchObject({
      kind: "error",
      message: 'unknown command "frobnicate"',
    });
  });

  it("refuses unknown options, missing and extra positionals", () => {
    expect(parseCommandLine(["status", "--bogus"])).toMatchObject({ kind: "error", command: "status" });
    expect(parseCommandLine(["ask"])).toMatchObject({
      kind: "error",
      message: expect.stringContaining("missing argument"),
    });
    expect(parseCommandLine(["ask", "a", "b"])).toMatchObject({
      kind: "error",
      message: expect.stringContaining('unexpected argument "b"'),
    });
    expect(parseCommandLine(["library", "export"])).toMatchObject({ kind: "error" });
    expect(parseCommandLine(["up", "--port"])).toMatchObject({ kind: "error" });
  });

  it("knows --version", () => {
    expect(parseCommandLine(["--version"])).toEqual({ kind: "version" });
  });
});

describe("helpText", () => {
  it("lists every command, and each command's options with their values", () => {
    const overall = helpText();
    for (const command of ["up", "status", "ask", "demo", "library"])
      expect(overall).toContain(`  ${command}`);
    const ask = helpText("ask");
    expect(ask).toContain('Usage: insitu ask "question"');
    expect(ask).toMatch(/--max-cost USD\s+Cost budget/);
    expect(ask).toContain("GEMINI_API_KEY");
    expect(helpText("demo")).toContain("SCRIPTED");
  });
});

describe("option helpers", () => {
  it("parses positive numbers and names the option when wrong", () => {
    expect(numberOption({ rounds: "3" }, "rounds", { integer: true })).toBe(3);
    expect(numberOption({}, "rounds")).toBeUndefined();
    expect(numberOption({ rounds: "2.5" }, "rounds", { integer: true })).toBe(
      '--rounds expects a positive integer, got "2.5"',
    );
    expect(numberOption({ "max-cost": "-1" }, "max-cost")).toContain("--max-cost expects a positive number");
  });

  it("finds close words only within two edits", () => {
    expect(closest("demo", ["demo", "up"])).toBe("demo");
    expect(closest("asq", ["ask", "up"])).toBe("ask");
    expect(closest("zzzzzz", ["ask", "up"])).toBeUndefined();
  });
});
