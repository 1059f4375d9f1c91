import { MAX_TOOL_OUTPUT_DEPTH } from "@insitu/contracts";
import type { PermissionKind, PermissionRef, ToolOutcome } from "@insitu/tool-kit";
import { parseBoundedJson, scanFrames } from "./frame.js";
import type { RawRun } from "./process-slot.js";

/**
 * Deepest JSON a tool may return: the bus's message limit minus room for the messages that carry
 * it, counted the same way (libs/contracts limits.ts), so an accepted output always travels.
 */
export const MAX_OUTPUT_DEPTH = MAX_TOOL_OUTPUT_DEPTH;
const LOG_CHARS = 8 * 1024;
const STACK_CHARS = 3000;

interface Frame {
  k: "ok" | "error" | "load" | "unserializable" | "output-limit";
  output?: unknown;
  name?: string;
  message?: string;
  stack?: string;
  cause?: string;
  chars?: number;
}

export interface ClassifyLimits {
  timeoutMs: number;
  memoryMb: number;
  outputBytes: number;
}

/**
 * Turns what a process left behind into a typed outcome. Order matters: what the sandbox did
 * (kill at the wall limit, at the output cap) and what the kernel did (OOM) outrank anything the
 * process wrote, because a dying process's last words are not trusted.
 */
export function classifyRun(run: RawRun & { nonce: string }, limits: ClassifyLimits): ToolOutcome {
  const { frames, rest } = scanFrames(run.stdout, run.nonce);
  const stderr = run.stderr.toString("utf8");
  const logs = trimLogs(`${rest.toString("utf8")}${stderr}`);
  const common = { durationMs: round(run.durationMs), ...(logs ? { logs } : {}) };

  if (run.killedFor === "timeout") return { status: "TIMEOUT", limitMs: limits.timeoutMs, ...common };
  if (run.killedFor === "output-limit")
    return { status: "OUTPUT_LIMIT", limitBytes: limits.outputBytes, ...common };
  if (run.killedFor === "work-quota") {
    // The work dir held more than its quota (ADR 0135): an output limit on what the tool stores.
    return {
      status: "OUTPUT_LIMIT",
      limitBytes: limits.outputBytes,
      ...common,
      logs: trimLogs(`${logs}\n${run.quotaNote ?? "[sandbox] the work dir exceeded its quota"}`),
    };
  }
  if (run.memoryExceeded || isOutOfMemoryText(stderr)) {
    return { status: "MEMORY_LIMIT", limitMb: Math.round(run.memoryCapBytes / 1024 / 1024), ...common };
  }
  if (run.signal === "SIGXCPU") return { status: "TIMEOUT", limitMs: limits.timeoutMs, ...common };
  if (run.signal === "SIGXFSZ") {
    return {
      status: "OUTPUT_LIMIT",
      limitBytes: limits.outputBytes,
      ...common,
      logs: trimLogs(`${logs}\n[sandbox] a file in the work dir exceeded the file size limit`),
    };
  }
  if (frames.length > 1) {
    return {
      status: "CRASH",
      message: "the result channel was tampered with (more than one result frame)",
      ...common,
    };
  }
  const frameBytes = frames[0];
  if (frameBytes === undefined) {
    const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.exitCode ?? "unknown"}`;
    // Deno's own last word ("error: Top-level await promise never resolved" …), when it left one.
    const denoError = /^error: (.+)$/m.exec(cleanText(stderr))?.[1];
    return {
      status: "CRASH",
      message: denoError
        ? `the tool process ${how} before returning a result: ${truncate(denoError, 500)}${denoError.includes("Top-level await") ? " (run() returned a promise that never settles)" : ""}`
        : `the tool process ${how} before returning a result (Deno.exit, a fatal error, or a killed process)`,
      ...common,
    };
  }
  const parsed = parseBoundedJson(frameBytes, {
    maxBytes: limits.outputBytes + 1024,
    maxDepth: MAX_OUTPUT_DEPTH + 1,
  });
  if (!parsed.ok) {
    if (parsed.reason === "too-large")
      return { status: "OUTPUT_LIMIT", limitBytes: limits.outputBytes, ...common };
    if (parsed.reason === "too-deep") {
      return {
        status: "INVALID_OUTPUT",
        issues: [{ path: "/", message: `output nests deeper than ${MAX_OUTPUT_DEPTH} levels` }],
        ...common,
      };
    }
    return { status: "CRASH", message: `the result frame is damaged: ${parsed.message}`, ...common };
  }
  const frame = parsed.value as Frame;
  switch (frame.k) {
    case "ok":
      return { status: "ok", output: frame.output, ...common };
    case "output-limit":
      return { status: "OUTPUT_LIMIT", limitBytes: limits.outputBytes, ...common };
    case "unserializable":
      return {
        status: "INVALID_OUTPUT",
        issues: [
          { path: "/", message: `the output cannot be written as JSON: ${String(frame.message ?? "")}` },
        ],
        ...common,
      };
    case "error":
    case "load":
      return classifyError(frame, common, limits);
    default:
      return { status: "CRASH", message: "the result frame has an unknown kind", ...common };
  }
}

// "Requires net access to \"host:port\"", "Requires env access" (no target for enumerations),
// "Requires all access to \"/dev/…\"" (Deno's special files), and the symlink refusal
// "requires unscoped --allow-read and --allow-write".
const PERMISSION_PATTERN = /Requires (\w+) access(?: to "([^"]*)")?/;
const UNSCOPED_PATTERN = /requires unscoped --allow-(\w+)/;
const REMOTE_IMPORT_PATTERN = /A remote specifier was requested: "([^"]+)"/;
const NPM_IMPORT_PATTERN = /npm specifiers were requested/;
const PERMISSION_KINDS = new Set<string>(["net", "env", "read", "write", "run", "ffi", "sys", "import"]);

function classifyError(
  frame: Frame,
  common: { durationMs: number; logs?: string },
  limits: ClassifyLimits,
): ToolOutcome {
  const message = cleanText(String(frame.message ?? ""));
  const cause = cleanText(String(frame.cause ?? ""));
  const text = `${message}\n${cause}`;
  const permission = findPermission(text);
  if (permission) {
    return {
      status: "PERMISSION_DENIED",
      permission,
      message: truncate(`${denialLine(message, cause)} — ${permissionHint(permission)}`, 2000),
      ...common,
    };
  }
  if (isOutOfMemoryText(text)) return { status: "MEMORY_LIMIT", limitMb: limits.memoryMb, ...common };
  const name = String(frame.name ?? "Error");
  const prefix = frame.k === "load" ? "the tool module failed to load: " : "";
  const stack = trimStack(String(frame.stack ?? ""));
  return {
    status: "CRASH",
    message: truncate(`${prefix}${name}: ${message}${cause ? ` (cause: ${cause})` : ""}`, 2000),
    ...(stack ? { stack } : {}),
    ...common,
  };
}

/** Deno's sentence without its advice to re-run with a flag (a tool cannot choose flags). */
function denialLine(message: string, cause: string): string {
  const line = PERMISSION_PATTERN.test(message) ? firstLine(message) : firstLine(cause) || firstLine(message);
  return line.replace(/, run again with the --allow-[\w-]+ flag\.?/, "");
}

/** What a model can do about a denial. */
export function permissionHint(permission: PermissionRef): string {
  switch (permission.kind) {
    case "net":
      return `declare "${permission.target ?? "host:port"}" in manifest.permissions.network if the tool needs it (the operator must allow it too; internal addresses are refused)`;
    case "env":
      return `declare ${permission.target ?? "the variable"} in manifest.permissions.secrets if it is a secret the tool needs; no other environment is visible`;
    case "read":
    case "write":
      return "tools may only use files in their working directory (relative paths)";
    case "import":
      return "tools may import only the vetted libraries by bare name; no remote, npm or jsr imports";
    default:
      return `tools may not use ${permission.kind} permissions`;
  }
}

export function findPermission(text: string): PermissionRef | undefined {
  const match = PERMISSION_PATTERN.exec(text);
  if (match) {
    // "all" is what Deno asks for on special files (/dev, /proc/*/mem …): a file permission.
    const kind = match[1] === "all" ? "read" : match[1];
    if (PERMISSION_KINDS.has(kind ?? "")) {
      return match[2] === undefined
        ? { kind: kind as PermissionKind }
        : { kind: kind as PermissionKind, target: truncate(match[2], 1000) };
    }
  }
  const unscoped = UNSCOPED_PATTERN.exec(text);
  if (unscoped && PERMISSION_KINDS.has(unscoped[1] ?? "")) return { kind: unscoped[1] as PermissionKind };
  const remote = REMOTE_IMPORT_PATTERN.exec(text);
  if (remote) return { kind: "import", target: truncate(remote[1] ?? "", 1000) };
  if (NPM_IMPORT_PATTERN.test(text)) return { kind: "import", target: "npm:" };
  return undefined;
}

function isOutOfMemoryText(text: string): boolean {
  return /out of memory|Array buffer allocation failed|Invalid array buffer length|heap limit|memory allocation of \d+ bytes failed/i.test(
    text,
  );
}

const TOOL_URL_PATTERN = /data:application\/typescript;base64,[A-Za-z0-9+/=.]*/g;

/** Replaces the tool's data: URL (the whole module, base64) with `tool.ts` and drops ANSI codes. */
export function cleanText(text: string): string {
  return text.replace(TOOL_URL_PATTERN, "tool.ts").replace(/\u001b\[[0-9;]*m/g, "");
}

/** Keeps the message line and the tool's own frames; runner and Deno internals are noise to a model. */
export function trimStack(stack: string): string {
  const lines = cleanText(stack).split("\n");
  const kept = lines.filter((line, index) => index === 0 || line.includes("tool.ts"));
  return truncate(kept.join("\n"), STACK_CHARS);
}

function trimLogs(text: string): string {
  const clean = cleanText(text);
  if (clean.length <= LOG_CHARS) return clean;
  return `${clean.slice(0, LOG_CHARS / 2)}\n…[${clean.length - LOG_CHARS} characters trimmed]…\n${clean.slice(-LOG_CHARS / 2 + 64)}`;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
