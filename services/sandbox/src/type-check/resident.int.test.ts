import { readFileSync } from "node:fs";
import { sampleTool } from "@insitu/tool-kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checker, scanImports } from "../check.js";
import { defaultPolicy } from "../policy.js";
import { Sandbox, vettedSpecifiers } from "../sandbox.js";
import { ResidentTypeChecker } from "./resident.js";

const tool = (body: string) =>
  `export const manifest = ${JSON.stringify(sampleTool().manifest)};\n${body}\nexport default async function run(input: { a: number; b: number }) { return { sum: input.a + input.b }; }\n`;

/**
 * The same modules through `deno check` and through the resident checker: the verdict and the
 * TypeScript error codes must agree, or the fast path would admit (or refuse) what Deno would not.
 */
const CORPUS: { name: string; code: string; ok: boolean; confirmed?: boolean }[] = [
  { name: "a valid tool", code: sampleTool().code, ok: true },
  { name: "string into number", code: tool("const n: number = 'one';"), ok: false },
  { name: "unknown Deno API", code: tool("export const x = () => Deno.nope();"), ok: false },
  {
    name: "misspelt Response method",
    code: tool("export const f = async () => (await fetch('http://a')).jsonn();"),
    ok: false,
  },
  { name: "implicit any parameter", code: tool("export function f(x) { return x; }"), ok: false },
  { name: "syntax error", code: tool("const = 1;"), ok: false },
  {
    name: "missing return path",
    code: tool("export function f(x: number): number { if (x) return 1; }"),
    ok: false,
  },
  {
    name: "catch variable is unknown",
    code: tool("export function f() { try { return 1; } catch (e) { return e.message; } }"),
    ok: false,
  },
  {
    name: "web APIs Deno provides",
    code: tool(
      "export const w = () => [structuredClone({a: 1}), new URL('http://x').host, new TextEncoder().encode('x'), AbortSignal.timeout(5), crypto.randomUUID(), new URLPattern({ pathname: '/a' })];",
    ),
    ok: true,
  },
  {
    name: "a vetted library",
    code: tool(
      "import Papa from 'papaparse';\nimport dayjs from 'dayjs';\nexport const p = () => [Papa.parse('a,b').data, dayjs('2020-01-01').year()];",
    ),
    ok: true,
  },
  {
    name: "timers (Node's globals, as deno check has them)",
    code: tool(
      "export const t = async () => { await new Promise((resolve) => setTimeout(resolve, 1)); const id = setInterval(() => {}, 5); clearInterval(id); return id; };",
    ),
    ok: true,
  },
  {
    name: "a timer is not a string",
    code: tool("export const s: string = setTimeout(() => {}, 1);"),
    ok: false,
  },
  {
    name: "Node's process global (the fast path does not know it: deno check confirms)",
    code: tool("export const v = () => typeof process.version;"),
    ok: true,
    confirmed: true,
  },
  {
    name: "a misspelt name (confirmed, refused)",
    code: tool("export const t = () => setTimout(() => {}, 1);"),
    ok: false,
    confirmed: true,
  },
  {
    name: "index access is not undefined",
    code: tool("export const g = () => [1, 2][0].toFixed(1);"),
    ok: true,
  },
];

let sandbox: Sandbox;
let resident: Checker;
let deno: Checker;

beforeAll(() => {
  sandbox = new Sandbox({ policy: defaultPolicy(), concurrency: 2, warm: { perProfile: 0 } });
  const allowedSpecifiers = vettedSpecifiers(sandbox.environment);
  resident = new Checker(sandbox, { allowedSpecifiers, typeChecker: "resident" });
  deno = new Checker(sandbox, { allowedSpecifiers, typeChecker: "deno" });
});

afterAll(async () => {
  await resident.close();
  await sandbox.close();
});

describe("resident type checker", () => {
  it("agrees with deno check on every module of the corpus", async () => {
    const codes = (result: Awaited<ReturnType<Checker["check"]>>) =>
      [...new Set(result.diagnostics.map((item) => item.code))].sort();
    const rows: string[] = [];
    for (const entry of CORPUS) {
      const confirmations = resident.confirmations;
      const [fast, slow] = await Promise.all([resident.check(entry.code), deno.check(entry.code)]);
      expect(resident.confirmations - confirmations, `confirmed: ${entry.name}`).toBe(
        entry.confirmed ? 1 : 0,
      );
      rows.push(`${entry.name}: resident ${fast.ok} ${codes(fast)} / deno ${slow.ok} ${codes(slow)}`);
      expect(slow.ok, `deno: ${entry.name} ${JSON.stringify(slow.diagnostics)}`).toBe(entry.ok);
      expect(fast.ok, `resident: ${entry.name} ${JSON.stringify(fast.diagnostics)}`).toBe(entry.ok);
      // Deno reports a parse error in its own words (CHECK_FAILED); every TypeScript code must match.
      if (!slow.diagnostics.some((item) => item.code === "CHECK_FAILED"))
        expect(codes(fast), entry.name).toEqual(codes(slow));
      else
        expect(
          codes(fast).some((code) => code.startsWith("TS1")),
          entry.name,
        ).toBe(true);
      if (!entry.ok && slow.diagnostics[0]?.line !== undefined)
        expect(fast.diagnostics[0]?.line, entry.name).toBe(slow.diagnostics[0]?.line);
    }
    console.log(rows.join("\n"));
  });

  it("reads no file the module names and refuses every specifier that is not vetted", async () => {
    const checker = new ResidentTypeChecker({
      denoPath: sandbox.environment.denoPath,
      denoDir: sandbox.environment.denoDir,
      ...(sandbox.environment.importMapPath ? { importMapPath: sandbox.environment.importMapPath } : {}),
    });
    try {
      // Checked here without the import scan in front (the Checker runs it first, so a module like
      // this never reaches the compiler there): the compiler itself must not read these files.
      const code =
        '/// <reference path="/etc/passwd" />\nimport secret from "/etc/hostname";\nimport x from "./sandbox.ts";\nexport const y: string = secret + x;\n';
      expect(scanImports(code, vettedSpecifiers(sandbox.environment)).length).toBeGreaterThan(0);
      const found = await checker.check(code);
      const text = JSON.stringify(found);
      // The reference is not found (TS6231) and neither import resolves (TS2307 each).
      expect(found.map((item) => item.code).sort()).toEqual(["TS2307", "TS2307", "TS6231"]);
      expect(text).not.toMatch(/root:|localhost|insitu/);
    } finally {
      await checker.close();
    }
  });

  it("answers a check past its time with CHECK_TIMEOUT and replaces the checker", async () => {
    const checker = new ResidentTypeChecker({
      denoPath: sandbox.environment.denoPath,
      denoDir: sandbox.environment.denoDir,
      // Loading Deno's declarations alone takes longer than this.
      timeoutMs: 20,
    });
    try {
      const first = await checker.check(sampleTool().code);
      expect(first.map((item) => item.code)).toEqual(["CHECK_TIMEOUT"]);
      // The same checker with room to work: a fresh process answers.
      (checker as unknown as { options: { timeoutMs: number } }).options.timeoutMs = 60_000;
      expect(await checker.check(sampleTool().code)).toEqual([]);
      expect(await checker.check(tool("const n: number = 'one';"))).toEqual([
        expect.objectContaining({ code: "TS2322" }),
      ]);
      expect(checker.starts).toBe(2);
    } finally {
      await checker.close();
    }
  });

  it("starts the checker process with none of the service's environment", async () => {
    process.env.INSITU_CHECKER_CANARY = "canary-value";
    const checker = new ResidentTypeChecker({
      denoPath: sandbox.environment.denoPath,
      denoDir: sandbox.environment.denoDir,
    });
    try {
      await checker.warm();
      const environ = readFileSync(`/proc/${checker.pid}/environ`, "utf8").split("\0").filter(Boolean);
      // Node adds its IPC channel's own two variables.
      expect(environ.map((entry) => entry.split("=")[0]).sort()).toEqual([
        "NODE_CHANNEL_FD",
        "NODE_CHANNEL_SERIALIZATION_MODE",
        "NODE_ENV",
        "PATH",
      ]);
      expect(environ.join("\n")).not.toContain("canary-value");
    } finally {
      delete process.env.INSITU_CHECKER_CANARY;
      await checker.close();
    }
  });
});
