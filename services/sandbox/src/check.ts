import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ToolManifest, ToolManifestSchema, computeCodeHash } from "@insitu/tool-kit";
import { execa } from "execa";
import ts from "typescript";
import { cleanText } from "./classify.js";
import type { Sandbox } from "./sandbox.js";
import { ResidentTypeChecker } from "./type-check/resident.js";

export interface Diagnostic {
  line?: number;
  column?: number;
  code: string;
  message: string;
  source?: string;
}

export interface CheckResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  manifest?: ToolManifest;
  manifestIssues?: { path: string; message: string }[];
  cached: boolean;
  durationMs: number;
}

/** Verdicts about the moment rather than the code: a checker that was slow or was stopped. */
const UNCACHED = new Set(["CHECK_TIMEOUT", "CHECK_INTERRUPTED"]);

/** Specifiers Deno would follow that a tool module may not use at all. */
const FORBIDDEN_PRAGMAS = /@deno-types|@ts-types|@jsxImportSource|<reference\s/;

/** How a tool module is type-checked: a checker kept loaded (default), or `deno check` each time. */
/** "Cannot find name …" in its forms (plain, with a suggestion, needing @types/node). */
const UNKNOWN_NAME = new Set(["TS2304", "TS2552", "TS2580", "TS2591"]);

export type TypeCheckerKind = "resident" | "deno";

/**
 * Type-checks a tool module — with the resident checker (TypeScript kept loaded with Deno's
 * declarations, docs/adr/0087) or with `deno check` — and reads its exported manifest (in the sandbox),
 * cached by content hash. Before Deno sees the module, its import graph is read with TypeScript's
 * own pre-processor: `deno check` follows local imports with no permission system, so anything but
 * a vetted library specifier is refused here, with the line, instead of being read from disk.
 */
export class Checker {
  private readonly cache = new Map<string, Omit<CheckResult, "cached">>();
  private readonly resident: ResidentTypeChecker | undefined;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly options: {
      allowedSpecifiers: string[];
      cacheSize?: number;
      timeoutMs?: number;
      typeChecker?: TypeCheckerKind;
    },
  ) {
    if ((options.typeChecker ?? "resident") === "resident") {
      const environment = sandbox.environment;
      this.resident = new ResidentTypeChecker({
        denoPath: environment.denoPath,
        denoDir: environment.denoDir,
        ...(environment.importMapPath ? { importMapPath: environment.importMapPath } : {}),
        timeoutMs: options.timeoutMs ?? 30_000,
      });
    }
  }

  /** Loads the resident checker ahead of the first build (no-op with `deno check`). */
  warm(): Promise<void> {
    return this.resident?.warm() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    await this.resident?.close();
  }

  /** Checks the resident checker handed to `deno check` (it reported a name it does not know). */
  confirmations = 0;

  async check(code: string): Promise<CheckResult> {
    const started = performance.now();
    const key = computeCodeHash(code);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return { ...hit, cached: true, durationMs: round(performance.now() - started) };
    }
    const diagnostics = scanImports(code, this.options.allowedSpecifiers);
    if (diagnostics.length === 0)
      diagnostics.push(...(await (this.resident ? this.residentCheck(code) : this.denoCheck(code))));
    const manifestPart = diagnostics.some((item) => item.code === "IMPORT_NOT_ALLOWED")
      ? {}
      : await this.readManifest(code, diagnostics);
    const result = {
      ok: diagnostics.length === 0 && manifestPart.manifest !== undefined,
      diagnostics: diagnostics.slice(0, 50),
      ...manifestPart,
      durationMs: round(performance.now() - started),
    };
    // A wall-time timeout says as much about the machine's load as about the code: never cache it,
    // or one slow moment fails every later attempt at the same code at once (nor a stopped checker).
    if (!diagnostics.some((item) => UNCACHED.has(item.code))) this.cache.set(key, result);
    if (this.cache.size > (this.options.cacheSize ?? 512)) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return { ...result, cached: false };
  }

  private async residentCheck(code: string): Promise<Diagnostic[]> {
    const lines = code.split("\n");
    const found = await (this.resident as ResidentTypeChecker).check(code);
    // The resident checker has Deno's declarations and Node's timers, not the rest of the Node
    // globals `deno check` knows (process, Buffer, …): an unknown name is confirmed by Deno itself
    // rather than refused on the fast path's word.
    if (found.some((item) => UNKNOWN_NAME.has(item.code))) {
      this.confirmations += 1;
      return this.denoCheck(code);
    }
    return found.map((item) =>
      item.line !== undefined && lines[item.line - 1] !== undefined
        ? { ...item, source: lines[item.line - 1]!.trim().slice(0, 200) }
        : item,
    );
  }

  private async denoCheck(code: string): Promise<Diagnostic[]> {
    const environment = this.sandbox.environment;
    const dir = await mkdtemp(join(environment.workRoot, "check-"));
    const file = join(dir, "tool.ts");
    await writeFile(file, code);
    try {
      const args = ["check", "--no-remote", "--no-npm", "--no-config", "--no-lock", "--quiet"];
      if (environment.importMapPath) args.push(`--import-map=${environment.importMapPath}`);
      args.push(file);
      // The compiler runs on untrusted code: CPU-limited, wall-limited, clean environment.
      const cpu = Math.ceil((this.options.timeoutMs ?? 30_000) / 1000);
      const result = await execa(
        environment.prlimitPath,
        [`--cpu=${cpu}:${cpu}`, "--core=0:0", "--", environment.denoPath, ...args],
        {
          env: { DENO_DIR: environment.denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
          extendEnv: false,
          stdin: "ignore",
          reject: false,
          timeout: this.options.timeoutMs ?? 30_000,
          maxBuffer: 1024 * 1024,
          cwd: dir,
        },
      );
      if (result.timedOut)
        return [{ code: "CHECK_TIMEOUT", message: "type checking took too long; simplify the types" }];
      if (result.exitCode === 0) return [];
      return parseDenoDiagnostics(`${result.stdout}\n${result.stderr}`, code);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async readManifest(
    code: string,
    diagnostics: Diagnostic[],
  ): Promise<{ manifest?: ToolManifest; manifestIssues?: { path: string; message: string }[] }> {
    const outcome = await this.sandbox.readManifest(code);
    if (outcome.status !== "ok") {
      const message =
        outcome.status === "CRASH" || outcome.status === "PERMISSION_DENIED"
          ? outcome.message
          : outcome.status;
      diagnostics.push({ code: "MODULE_LOAD", message: `importing the module failed: ${message}` });
      return {};
    }
    if (outcome.output === null || outcome.output === undefined) {
      const issues = [{ path: "/", message: "the module must `export const manifest = {...}`" }];
      diagnostics.push({ code: "MANIFEST", message: issues[0]!.message });
      return { manifestIssues: issues };
    }
    const parsed = ToolManifestSchema.safeParse(outcome.output);
    if (parsed.success) return { manifest: parsed.data };
    const issues = parsed.error.issues.slice(0, 20).map((issue) => ({
      path: `/${issue.path.map(String).join("/")}`,
      message: issue.message,
    }));
    for (const issue of issues)
      diagnostics.push({ code: "MANIFEST", message: `manifest${issue.path}: ${issue.message}` });
    return { manifestIssues: issues };
  }
}

/** Every import the module makes must be a vetted library (or a `node:` built-in, denied at run time anyway). */
export function scanImports(code: string, allowed: string[]): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const lines = code.split("\n");
  const lineOf = (position: number) => ts.getLineAndCharacterOfPosition(source, position);
  const source = ts.createSourceFile("tool.ts", code, ts.ScriptTarget.ES2022, true);
  const pragma = FORBIDDEN_PRAGMAS.exec(code);
  if (pragma) {
    const { line } = lineOf(pragma.index);
    diagnostics.push({
      line: line + 1,
      code: "IMPORT_NOT_ALLOWED",
      message: `"${pragma[0].trim()}" directives are not allowed in a tool module`,
      source: lines[line]?.trim().slice(0, 200),
    });
  }
  const info = ts.preProcessFile(code, true, true);
  const references = [
    ...info.importedFiles,
    ...info.referencedFiles,
    ...info.typeReferenceDirectives,
    ...info.libReferenceDirectives,
  ];
  for (const reference of references) {
    const specifier = reference.fileName;
    if (allowed.includes(specifier)) continue;
    const { line, character } = lineOf(reference.pos);
    diagnostics.push({
      line: line + 1,
      column: character + 1,
      code: "IMPORT_NOT_ALLOWED",
      message: `"${specifier}" cannot be imported; tools may use web APIs and only these libraries: ${allowed.join(", ") || "(none)"}`,
      source: lines[line]?.trim().slice(0, 200),
    });
  }
  return diagnostics;
}

/** Parses `deno check` output into one diagnostic per error, located in the tool module. */
export function parseDenoDiagnostics(output: string, code: string): Diagnostic[] {
  const lines = code.split("\n");
  const text = cleanText(output);
  const diagnostics: Diagnostic[] = [];
  const blocks = text.split(/\n(?=TS\d+ \[ERROR\]:)/);
  for (const block of blocks) {
    const head = /(TS\d+) \[ERROR\]: ([^\n]*)/.exec(block);
    if (!head) continue;
    const location = /at file:\/\/\/[^\n]*?tool\.ts:(\d+):(\d+)/.exec(block);
    const line = location ? Number(location[1]) : undefined;
    const related = /\n {4}([^\n]*declared here[^\n]*)/.exec(block);
    diagnostics.push({
      ...(line !== undefined ? { line, column: Number(location?.[2]) } : {}),
      code: head[1] ?? "TS",
      message: `${head[2] ?? ""}${related ? ` (${related[1]?.trim()})` : ""}`.slice(0, 2000),
      ...(line !== undefined && lines[line - 1] !== undefined
        ? { source: lines[line - 1]!.trim().slice(0, 200) }
        : {}),
    });
  }
  if (diagnostics.length === 0) {
    const firstError = /error: ([^\n]*)/.exec(text);
    diagnostics.push({ code: "CHECK_FAILED", message: (firstError?.[1] ?? text.trim()).slice(0, 2000) });
  }
  return diagnostics;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
