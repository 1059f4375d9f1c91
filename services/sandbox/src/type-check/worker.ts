/**
 * The resident type-checker's child process (see resident.ts): keeps TypeScript's program for
 * Deno's declarations, the standard library and the vetted libraries loaded, and checks one tool
 * module per request against them, reusing every parsed declaration file.
 *
 * It reads nothing from disk but TypeScript's own lib files and the vetted libraries the parent
 * names: every other name the compiler asks for does not exist. Tool code is never executed here.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import ts from "typescript";

export interface InitMessage {
  type: "init";
  /** `deno types` of the Deno binary that runs the tools. */
  denoTypes: string;
  /** Vetted specifier → absolute path of its module (the import map, resolved). */
  vetted: Record<string, string>;
}

export interface CheckMessage {
  type: "check";
  id: number;
  code: string;
}

export interface CheckedMessage {
  id: number;
  diagnostics: { line?: number; column?: number; code: string; message: string }[];
}

const TOOL = "/insitu/tool.ts";
const DENO_TYPES = "/insitu/lib.deno.d.ts";
const NODE_TIMERS = readFileSync(new URL("./node-timers.d.ts", import.meta.url), "utf8");

/** Deno's own defaults for a module checked without a config file. */
export const DENO_COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  allowJs: true,
  checkJs: false,
  target: ts.ScriptTarget.ESNext,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  moduleDetection: ts.ModuleDetectionKind.Force,
  isolatedModules: true,
  useDefineForClassFields: true,
  allowImportingTsExtensions: true,
  resolveJsonModule: false,
  noEmit: true,
  skipLibCheck: true,
  lib: ["lib.esnext.d.ts"],
  types: [],
  jsx: ts.JsxEmit.React,
};

class ResidentProgram {
  private readonly libDir = dirname(ts.getDefaultLibFilePath(DENO_COMPILER_OPTIONS));
  private readonly sources = new Map<string, ts.SourceFile>();
  private readonly vettedPaths: Set<string>;
  private previous: ts.Program | undefined;

  constructor(
    private readonly denoTypes: string,
    private readonly vetted: Record<string, string>,
  ) {
    this.vettedPaths = new Set(Object.values(vetted));
  }

  check(code: string): CheckedMessage["diagnostics"] {
    const host = this.host(code);
    const program = ts.createProgram({
      rootNames: [DENO_TYPES, TOOL],
      options: DENO_COMPILER_OPTIONS,
      host,
      ...(this.previous ? { oldProgram: this.previous } : {}),
    });
    this.previous = program;
    const tool = program.getSourceFile(TOOL);
    if (!tool) return [{ code: "CHECK_FAILED", message: "the module could not be read" }];
    const found = [...program.getSyntacticDiagnostics(tool), ...program.getSemanticDiagnostics(tool)];
    return found.slice(0, 50).map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n").slice(0, 2000);
      if (diagnostic.file === undefined || diagnostic.start === undefined)
        return { code: `TS${diagnostic.code}`, message };
      const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      return { line: line + 1, column: character + 1, code: `TS${diagnostic.code}`, message };
    });
  }

  private host(code: string): ts.CompilerHost {
    const readable = (name: string) =>
      name === TOOL ||
      name === DENO_TYPES ||
      this.vettedPaths.has(name) ||
      (name.startsWith(`${this.libDir}/`) && name.endsWith(".d.ts"));
    const read = (name: string): string | undefined => {
      if (name === TOOL) return undefined;
      if (name === DENO_TYPES) return this.denoTypes;
      if (!readable(name)) return undefined;
      try {
        return readFileSync(name, "utf8");
      } catch {
        return undefined;
      }
    };
    return {
      getSourceFile: (name, languageVersion) => {
        if (name === TOOL) return ts.createSourceFile(name, code, languageVersion, true);
        const kept = this.sources.get(name);
        if (kept) return kept;
        const text = read(name);
        if (text === undefined) return undefined;
        const source = ts.createSourceFile(name, text, languageVersion, false);
        this.sources.set(name, source);
        return source;
      },
      getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
      writeFile: () => undefined,
      getCurrentDirectory: () => "/insitu",
      getCanonicalFileName: (name) => name,
      useCaseSensitiveFileNames: () => true,
      getNewLine: () => "\n",
      fileExists: (name) => name === TOOL || (readable(name) && read(name) !== undefined),
      readFile: (name) => (name === TOOL ? code : read(name)),
      directoryExists: () => false,
      getDirectories: () => [],
      // Only the vetted specifiers resolve (scanImports has refused every other one already).
      resolveModuleNameLiterals: (literals) =>
        literals.map((literal) => {
          const path = this.vetted[literal.text];
          return {
            resolvedModule: path
              ? { resolvedFileName: path, extension: ts.Extension.Js, isExternalLibraryImport: false }
              : undefined,
          };
        }),
    };
  }
}

let resident: ResidentProgram | undefined;

process.on("message", (message: InitMessage | CheckMessage) => {
  if (message.type === "init") {
    // The header names a lib TypeScript does not ship (Deno's own net types are in the file).
    // Deno's check also has Node's timers, which `deno types` does not print (node-timers.d.ts).
    const denoTypes = `${message.denoTypes.replace(/\/\/\/\s*<reference lib="deno\.[a-z_.]+"\s*\/>/g, "")}\n${NODE_TIMERS}`;
    resident = new ResidentProgram(denoTypes, message.vetted);
    return;
  }
  if (!resident) {
    process.send?.({ id: message.id, diagnostics: [{ code: "CHECK_FAILED", message: "checker not ready" }] });
    return;
  }
  let diagnostics: CheckedMessage["diagnostics"];
  try {
    diagnostics = resident.check(message.code);
  } catch (error) {
    diagnostics = [{ code: "CHECK_FAILED", message: `type checking failed: ${String(error).slice(0, 500)}` }];
  }
  process.send?.({ id: message.id, diagnostics } satisfies CheckedMessage);
});
process.on("disconnect", () => process.exit(0));
