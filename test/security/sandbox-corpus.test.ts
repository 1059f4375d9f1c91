/**
 * The hostile-code corpus: every program in ./corpus runs through the real sandbox (real Deno,
 * real limits) and must end with exactly the outcome listed here. Nothing is widened to make a
 * case pass: each case gets the default policy plus only what its row names.
 */
import { readFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EnforcementMechanism, Sandbox, defaultPolicy } from "@insitu/sandbox";
import { type ToolLimits, type ToolManifest, type ToolOutcome, ToolOutcomeSchema } from "@insitu/tool-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const corpusDir = join(fileURLToPath(new URL(".", import.meta.url)), "corpus");

interface Case {
  file: string;
  network?: string[];
  secrets?: string[];
  grantedSecrets?: string[];
  limits?: ToolLimits;
  outputSchema?: Record<string, unknown>;
  /** Expected status; a function of the enforcement mechanism where the machine decides. */
  status: ToolOutcome["status"] | ((mechanism: string, workStorage: string) => ToolOutcome["status"]);
  /** For PERMISSION_DENIED: the permission named. `target` may be a pattern; null = Deno names none. */
  permission?: { kind: string; target?: string | RegExp | null };
  /** Text the message (CRASH/PERMISSION_DENIED) must contain. */
  message?: RegExp;
  /** Text the outcome's logs must contain (the sandbox's note on which limit ended the call). */
  logs?: RegExp;
}

/** Set by scripts/security-rootless.sh: the corpus runs as an unprivileged user (ADR 0135). */
const ROOTLESS = process.env.INSITU_SECURITY_ROOTLESS === "1";

const FAST: ToolLimits = { timeoutMs: 1500, memoryMb: 128, outputBytes: 256 * 1024 };
/** For programs a memory or size limit must stop: a wall limit a loaded machine cannot reach first. */
const BOMB: ToolLimits = { ...FAST, timeoutMs: 10_000 };

const cases: Case[] = [
  // files
  {
    file: "read-etc-passwd",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/passwd" },
  },
  {
    file: "read-proc-environ",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/proc/self/environ" },
  },
  {
    file: "read-proc-1-cmdline",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/proc/1/cmdline" },
  },
  {
    file: "read-relative-escape",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "../../../../../../etc/passwd" },
  },
  { file: "read-dir-root", status: "PERMISSION_DENIED", permission: { kind: "read", target: "/" } },
  {
    file: "write-outside-workdir",
    status: "PERMISSION_DENIED",
    permission: { kind: "write", target: "/tmp/insitu-escape.txt" },
  },
  { file: "symlink-escape", status: "PERMISSION_DENIED", permission: { kind: "read", target: null } },
  {
    file: "hardlink-escape",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/passwd" },
  },
  {
    file: "module-written-to-workdir",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/passwd" },
  },
  { file: "chdir-root", status: "PERMISSION_DENIED", permission: { kind: "read", target: "/" } },
  {
    file: "static-import-local-file",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/passwd" },
  },
  {
    file: "dynamic-import-local-file",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/hostname" },
  },
  { file: "static-import-absolute-path", status: "CRASH", message: /failed to load.*\/etc\/passwd/ },
  {
    file: "import-text-attribute",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/shadow" },
  },
  {
    file: "nested-data-import",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/passwd" },
  },
  { file: "node-fs", status: "PERMISSION_DENIED", permission: { kind: "read", target: "/etc/passwd" } },
  // Deno's node:child_process reads NODE_V8_COVERAGE before spawning; that denial comes first.
  {
    file: "node-child-process",
    status: "PERMISSION_DENIED",
    permission: { kind: "env", target: "NODE_V8_COVERAGE" },
  },
  { file: "node-os-userinfo", status: "PERMISSION_DENIED", permission: { kind: "sys", target: "uid" } },
  // environment and secrets
  { file: "env-home", status: "PERMISSION_DENIED", permission: { kind: "env", target: "HOME" } },
  { file: "env-to-object", status: "PERMISSION_DENIED", permission: { kind: "env", target: null } },
  {
    file: "secret-declared-not-granted",
    secrets: ["API_TOKEN"],
    status: "PERMISSION_DENIED",
    permission: { kind: "env", target: "API_TOKEN" },
  },
  {
    file: "secret-undeclared",
    secrets: ["GRANTED_TOKEN"],
    grantedSecrets: ["GRANTED_TOKEN"],
    status: "PERMISSION_DENIED",
    permission: { kind: "env", target: "OTHER_TOKEN" },
  },
  // network
  {
    file: "net-undeclared-host",
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "example.com:443" },
  },
  {
    file: "net-loopback-undeclared",
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "127.0.0.1:__PORT__" },
  },
  {
    file: "net-localhost-declared-not-allowed",
    network: ["localhost:__PORT__"],
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "localhost:__PORT__" },
  },
  {
    file: "net-private-declared",
    network: ["10.0.0.1"],
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "10.0.0.1:80" },
  },
  {
    file: "net-metadata-declared",
    network: ["169.254.169.254"],
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "169.254.169.254:80" },
  },
  {
    file: "net-hex-ip",
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "127.0.0.1:__PORT__" },
  },
  {
    file: "net-ipv4-mapped-ipv6-declared",
    network: ["[::ffff:7f00:1]:__PORT__"],
    status: "PERMISSION_DENIED",
    // The egress proxy names the target as the tool spelled it (the grant refuses the spelling).
    permission: { kind: "net", target: "[::ffff:7f00:1]:__PORT__" },
  },
  {
    file: "net-nat64-metadata-declared",
    network: ["[64:ff9b::a9fe:a9fe]"],
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: /^\[64:ff9b::a9fe:a9fe\]:80$/ },
  },
  {
    file: "net-ipv6-loopback",
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "[::1]:__PORT__" },
  },
  { file: "net-dns-lookup", status: "PERMISSION_DENIED", permission: { kind: "net", target: /:53$/ } },
  {
    file: "net-websocket",
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "127.0.0.1:__PORT__" },
  },
  {
    file: "net-raw-tcp",
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "127.0.0.1:__PORT__" },
  },
  { file: "net-listen", status: "PERMISSION_DENIED", permission: { kind: "net", target: "0.0.0.0:18080" } },
  {
    file: "net-declared-public-but-blocked-port",
    network: ["example.com:443"],
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "example.com:8443" },
  },
  // The tool process may reach only the egress proxy: raw sockets anywhere else are refused by Deno.
  {
    file: "net-raw-tcp-declared-public",
    network: ["mapped.egress-test.example:__PORT__"],
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "mapped.egress-test.example:__PORT__" },
  },
  {
    file: "net-nats-connect",
    status: "PERMISSION_DENIED",
    permission: { kind: "net", target: "127.0.0.1:4222" },
  },
  // A caught refusal is still an `ok` run; the refusal itself is checked in "egress proxy" below.
  { file: "net-catches-denial", status: "ok" },
  // subprocesses, FFI, signals, host info
  { file: "subprocess-command", status: "PERMISSION_DENIED", permission: { kind: "run", target: "/bin/sh" } },
  { file: "ffi-dlopen", status: "PERMISSION_DENIED", permission: { kind: "ffi", target: "libc.so.6" } },
  { file: "kill-parent", status: "PERMISSION_DENIED", permission: { kind: "run", target: null } },
  { file: "sys-info", status: "PERMISSION_DENIED", permission: { kind: "sys", target: "systemMemoryInfo" } },
  // imports
  {
    file: "remote-import",
    status: "PERMISSION_DENIED",
    permission: { kind: "import", target: "https://deno.land/std/path/mod.ts" },
  },
  { file: "npm-import", status: "PERMISSION_DENIED", permission: { kind: "import", target: "npm:" } },
  {
    file: "jsr-import",
    status: "PERMISSION_DENIED",
    permission: { kind: "import", target: "https://jsr.io/@std/path/meta.json" },
  },
  // permission requests and workers
  {
    file: "permission-request",
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/passwd" },
  },
  {
    file: "worker-escape",
    // 1 GiB, so that under prlimit (the shipped non-root image) the worker can start at all: its
    // isolate reserves ~500 MiB of address space that RLIMIT_DATA counts (ADR 0135). What is tested
    // is the worker's read permission, in every mode.
    limits: { ...FAST, memoryMb: 1024 },
    status: "PERMISSION_DENIED",
    permission: { kind: "read", target: "/etc/passwd" },
  },
  {
    file: "worker-flood",
    // Stopped in every mode, each time by one exact outcome. Under a cgroup the spinning workers
    // run until the wall/CPU limit. Under prlimit (the shipped non-root image) RLIMIT_DATA counts
    // the virtual memory each worker's isolate reserves, so the flood dies at the memory cap first
    // ("Failed to reserve virtual memory for CodeRange") — earlier, not later (ADR 0135).
    status: (mechanism) => (mechanism === EnforcementMechanism.prlimit ? "MEMORY_LIMIT" : "TIMEOUT"),
  },
  // resource bombs
  { file: "cpu-spin", status: "TIMEOUT" },
  { file: "heap-bomb", limits: BOMB, status: "MEMORY_LIMIT" },
  { file: "arraybuffer-bomb", limits: BOMB, status: "MEMORY_LIMIT" },
  // V8's maximum string length (~512 MB) stops it before any OS limit does.
  { file: "string-bomb", limits: BOMB, status: "CRASH", message: /Invalid string length/ },
  { file: "atomics-wait-hang", status: "TIMEOUT" },
  { file: "redos", status: "TIMEOUT" },
  { file: "never-settles", status: "TIMEOUT" },
  { file: "pending-forever", status: "CRASH", message: /never settles/ },
  // output
  { file: "stdout-flood", limits: BOMB, status: "OUTPUT_LIMIT" },
  { file: "stderr-flood", limits: BOMB, status: "OUTPUT_LIMIT" },
  { file: "huge-output", limits: BOMB, status: "OUTPUT_LIMIT" },
  { file: "deep-output", limits: BOMB, status: "INVALID_OUTPUT" },
  {
    file: "very-deep-output",
    limits: { ...BOMB, memoryMb: 512, outputBytes: 8 * 1024 * 1024 },
    status: "INVALID_OUTPUT",
    message: undefined,
  },
  { file: "cyclic-output", limits: BOMB, status: "INVALID_OUTPUT" },
  // forged results
  { file: "forged-frame-guess", status: "CRASH", message: /real failure/ },
  { file: "forged-patched-globals", status: "CRASH", message: /real failure/ },
  // Issue 11: a patched typed-array species saw the frame's bytes and rewrote them in place.
  { file: "forged-typed-array-species", status: "CRASH", message: /real failure/ },
  { file: "forged-exit-after-print", status: "CRASH", message: /before returning a result/ },
  // The job arrived on stdin, which the runner read to the end and closed before importing the tool.
  { file: "stdin-read", status: "CRASH", message: /BadResource/ },
  // thrown primitives say what was thrown
  { file: "throw-empty-string", status: "CRASH", message: /threw the string ""/ },
  { file: "throw-undefined", status: "CRASH", message: /threw undefined/ },
  // state that would outlive a call
  { file: "storage-local-storage", status: "CRASH", message: /Not a directory/ },
  { file: "storage-cache-api", status: "CRASH", message: /cache storage/ },
  // disk: every way of filling it must be stopped, with or without root (ADR 0135). Without root
  // there is no tmpfs and no memory cgroup to charge files to; the work-dir quota (256 MiB or
  // 2,000 entries here, polled) stops these in both modes.
  { file: "disk-fill-one-file", limits: { ...BOMB, memoryMb: 512 }, status: "OUTPUT_LIMIT" },
  {
    file: "disk-fill-many-files",
    // 8-MB files written in a burst. On the sandbox's tmpfs under a memory cgroup the files are
    // memory charged to the tool's own cgroup: at 128 MiB the memory limit stops it, always before
    // the 256-MiB quota (with 512 MiB it was a race between the two under load). Without a cgroup
    // or tmpfs only the polled quota can stop it. limits.int.test.ts runs the quota in both modes.
    limits: BOMB,
    status: (mechanism, storage) =>
      mechanism !== EnforcementMechanism.prlimit && storage === "tmpfs" ? "MEMORY_LIMIT" : "OUTPUT_LIMIT",
    logs: /work dir exceeded its quota: \d+ MiB/,
  },
  {
    file: "disk-fill-small-files",
    limits: { ...BOMB, timeoutMs: 30_000 },
    status: "OUTPUT_LIMIT",
    logs: /work dir exceeded its quota: more than 2000 files/,
  },
  {
    file: "disk-fill-unlinked",
    // 960 MB held in removed files. The memory limit sits above all it can write (plus Deno's own
    // use), so only the quota's count of removed-but-open files can stop it: at 512 MiB a slow
    // poll on a loaded machine let the tmpfs pages reach the memory limit first (seen in CI).
    limits: { ...BOMB, memoryMb: 1536 },
    status: "OUTPUT_LIMIT",
    logs: /MiB in removed files still open/,
  },
];

let server: Server;
let port = 0;
let sandbox: Sandbox;

/**
 * A test resolver (a fake DNS, labelled as such): public-looking names answering with every
 * spelling of an internal address. The egress proxy resolves names itself, so this is what it
 * dials; nothing else in the test resolves these names (the system resolver would fail on them).
 */
const INTERNAL_SPELLINGS: Record<string, string[]> = {
  "loopback4.egress-test.example": ["127.0.0.1"],
  "loopback4-other.egress-test.example": ["127.1.2.3"],
  "private10.egress-test.example": ["10.1.2.3"],
  "private172.egress-test.example": ["172.16.5.4"],
  "private192.egress-test.example": ["192.168.1.1"],
  "linklocal4.egress-test.example": ["169.254.1.1"],
  "metadata.egress-test.example": ["169.254.169.254"],
  "cgnat.egress-test.example": ["100.64.0.1"],
  "unspecified4.egress-test.example": ["0.0.0.0"],
  "loopback6.egress-test.example": ["::1"],
  "unspecified6.egress-test.example": ["::"],
  "mapped.egress-test.example": ["::ffff:127.0.0.1"],
  "mapped-hex.egress-test.example": ["::ffff:7f00:1"],
  "mapped-private.egress-test.example": ["::ffff:10.0.0.1"],
  "compatible.egress-test.example": ["::127.0.0.1"],
  "nat64.egress-test.example": ["64:ff9b::7f00:1"],
  "nat64-metadata.egress-test.example": ["64:ff9b::a9fe:a9fe"],
  "sixtofour.egress-test.example": ["2002:7f00:1::1"],
  "teredo.egress-test.example": ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
  "ula.egress-test.example": ["fd12:3456:789a::1"],
  "ula-metadata.egress-test.example": ["fd00:ec2::254"],
  "linklocal6.egress-test.example": ["fe80::1"],
  "linklocal6-zone.egress-test.example": ["fe80::1%1"],
  "sitelocal.egress-test.example": ["fec0::1"],
  "multicast6.egress-test.example": ["ff02::1"],
  // A mixed answer: one public address, one internal — the whole name is refused.
  "mixed.egress-test.example": ["93.184.216.34", "127.0.0.1"],
};
/** A public-looking name the operator named as internal-but-allowed; it answers with the test server. */
const NAMED_SERVICE = "named-service.egress-test.example";
const resolverCalls: string[] = [];
async function testResolver(host: string): Promise<string[]> {
  resolverCalls.push(host);
  if (host === NAMED_SERVICE) return ["127.0.0.1"];
  const answer = INTERNAL_SPELLINGS[host];
  if (!answer) throw new Error(`getaddrinfo ENOTFOUND ${host} (test resolver)`);
  return answer;
}

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === "/redirect") {
      // A declared host bouncing the tool to one it never declared.
      response.writeHead(302, { location: `http://localhost:${port}/` });
      response.end();
      return;
    }
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ path: request.url, authorization: request.headers.authorization ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  sandbox = new Sandbox({
    policy: defaultPolicy({
      // The operator explicitly names the one internal host tests may reach.
      internalHosts: [`127.0.0.1:${port}`, `${NAMED_SERVICE}:${port}`],
      secrets: { GRANTED_TOKEN: "s3cret-granted", OTHER_TOKEN: "s3cret-other", API_TOKEN: "s3cret-api" },
    }),
    concurrency: 3,
    maxQueue: 200,
    warm: { perProfile: 0 },
    maxFileBytes: 32 * 1024 * 1024,
    // The default byte quota (256 MiB); 2,000 entries instead of 10,000, so the empty-files case
    // meets its cap in seconds on a loaded machine's disk as well as on tmpfs.
    workQuota: { maxFiles: 2000 },
    egress: { resolver: testResolver },
  });
});

afterAll(async () => {
  await sandbox?.close();
  await new Promise((resolve) => server?.close(resolve));
});

function fill(text: string): string {
  return text.replaceAll("__PORT__", String(port));
}

function manifestFor(name: string, row: Pick<Case, "network" | "secrets" | "outputSchema">): ToolManifest {
  return {
    name: `probe_${name.replace(/-/g, "_")}`,
    description: `Hostile corpus program ${name}.`,
    inputSchema: { type: "object" },
    outputSchema: row.outputSchema ?? {},
    permissions: { network: (row.network ?? []).map(fill), secrets: row.secrets ?? [] },
  };
}

describe("hostile corpus", () => {
  it("has at least 40 programs, each with an expectation", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((row) => row.file)).size).toBe(cases.length);
  });

  it("runs in the mode it was asked for, and says which limits are exact", () => {
    const report = sandbox.limitsReport();
    // Printed so a run's log shows which mode the corpus passed in.
    console.info(
      `corpus limits: uid ${report.uid}, ${report.mechanism}, work dirs on ${report.workStorage}, degraded: ${report.degraded.join(", ") || "none"}`,
    );
    expect(report.exact).toBe(
      report.mechanism !== EnforcementMechanism.prlimit && report.workStorage === "tmpfs",
    );
    if (ROOTLESS) {
      // scripts/security-rootless.sh: the shipped image's mode (non-root, no cgroup, no tmpfs).
      expect(report.uid).not.toBe(0);
      expect(report.mechanism).toBe(EnforcementMechanism.prlimit);
      expect(report.workStorage).toBe("disk");
      expect(report.degraded).toEqual(expect.arrayContaining(["memory", "pids", "work_dir"]));
    }
  });

  it.concurrent.each(cases.map((row) => [row.file, row] as const))("%s", async (_name, row) => {
    const code = fill(readFileSync(join(corpusDir, `${row.file}.ts`), "utf8"));
    const outcome = await sandbox.exec({
      tool: { code, manifest: manifestFor(row.file, row) },
      input: {},
      grantedSecrets: row.grantedSecrets,
      limits: row.limits ?? FAST,
    });
    const expected =
      typeof row.status === "function"
        ? row.status(sandbox.enforcement.mechanism, sandbox.workStorage)
        : row.status;
    expect(outcome.status, JSON.stringify(outcome).slice(0, 600)).toBe(expected);
    if (row.permission && outcome.status === "PERMISSION_DENIED") {
      expect(outcome.permission.kind).toBe(row.permission.kind);
      const target = row.permission.target;
      if (typeof target === "string") expect(outcome.permission.target).toBe(fill(target));
      else if (target === null) expect(outcome.permission.target).toBeUndefined();
      else if (target) expect(outcome.permission.target).toMatch(target);
    }
    if (row.message && (outcome.status === "CRASH" || outcome.status === "PERMISSION_DENIED")) {
      expect(outcome.message).toMatch(row.message);
    }
    // A row's logs describe how the quota stopped it: checked when the quota is what stopped it.
    if (row.logs && outcome.status === "OUTPUT_LIMIT") expect(outcome.logs ?? "").toMatch(row.logs);
    // Whatever a hostile program does, the answer fits the sandbox.exec contract.
    expect(ToolOutcomeSchema.safeParse(outcome).success).toBe(true);
    // Nothing a hostile program does may leak a secret it was not granted.
    const text = JSON.stringify(outcome);
    if (!row.grantedSecrets?.includes("OTHER_TOKEN")) expect(text).not.toContain("s3cret-other");
    if (!row.grantedSecrets?.includes("API_TOKEN")) expect(text).not.toContain("s3cret-api");
    expect(text).not.toContain("root:x:0:0");
  });
});

describe("declared permissions work, undeclared ones do not", () => {
  const code = () => `
export const manifest = {};
export default async function run(input: { mode: string }): Promise<unknown> {
  if (input.mode === "declared") {
    const response = await fetch("http://127.0.0.1:${port}/hello", {
      headers: { authorization: "Bearer " + Deno.env.get("GRANTED_TOKEN") },
    });
    return await response.json();
  }
  if (input.mode === "other-secret") return { value: Deno.env.get("OTHER_TOKEN") ?? null };
  if (input.mode === "redirect") return await (await fetch("http://127.0.0.1:${port}/redirect")).json();
  if (input.mode === "other-host") return await (await fetch("http://127.0.0.1:${port + 1}/")).json();
  return await (await fetch("https://example.org/")).json();
}`;
  const manifest = (): ToolManifest => ({
    name: "fetch_local_greeting",
    description: "Fetches the local test server with a granted token.",
    inputSchema: { type: "object", properties: { mode: { type: "string" } }, required: ["mode"] },
    outputSchema: { type: "object" },
    permissions: { network: [`127.0.0.1:${port}`], secrets: ["GRANTED_TOKEN"] },
  });

  it("reaches the declared, operator-allowed host with the granted secret", async () => {
    const outcome = await sandbox.exec({
      tool: { code: code(), manifest: manifest() },
      input: { mode: "declared" },
      grantedSecrets: ["GRANTED_TOKEN"],
      limits: FAST,
    });
    expect(outcome).toMatchObject({
      status: "ok",
      output: { path: "/hello", authorization: "Bearer s3cret-granted" },
    });
  });

  it.each([
    ["other-secret", { kind: "env", target: "OTHER_TOKEN" }],
    ["other-host", { kind: "net", target: `127.0.0.1:${0}` }],
    ["public-host", { kind: "net", target: "example.org:443" }],
    ["redirect", { kind: "net", target: "localhost:PORT" }],
  ] as const)("touching %s fails PERMISSION_DENIED naming it", async (mode, permission) => {
    const outcome = await sandbox.exec({
      tool: { code: code(), manifest: manifest() },
      input: { mode },
      grantedSecrets: ["GRANTED_TOKEN"],
      limits: FAST,
    });
    const target =
      mode === "other-host" ? `127.0.0.1:${port + 1}` : permission.target.replace("PORT", String(port));
    expect(outcome).toMatchObject({
      status: "PERMISSION_DENIED",
      permission: { kind: permission.kind, target },
    });
  });

  it("validates input before the run and output after it", async () => {
    const invalidInput = await sandbox.exec({
      tool: { code: code(), manifest: manifest() },
      input: { mode: 3 },
      limits: FAST,
    });
    expect(invalidInput).toMatchObject({
      status: "INVALID_INPUT",
      issues: [{ path: "/mode", message: "must be string" }],
    });
    const invalidOutput = await sandbox.exec({
      tool: {
        code: code(),
        manifest: { ...manifest(), outputSchema: { type: "object", required: ["missing"] } },
      },
      input: { mode: "declared" },
      grantedSecrets: ["GRANTED_TOKEN"],
      limits: FAST,
    });
    expect(invalidOutput).toMatchObject({ status: "INVALID_OUTPUT" });
  });
});

describe("egress proxy: the address dialled is the address checked", () => {
  const fetchTool = (url: string) => `
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch(${JSON.stringify(url)})).status;
}`;
  const manifestFor = (network: string[]): ToolManifest => ({
    name: "fetch_declared_name",
    description: "Fetches the one host it declares.",
    inputSchema: { type: "object" },
    outputSchema: {},
    permissions: { network, secrets: [] },
  });

  it.concurrent.each(Object.entries(INTERNAL_SPELLINGS))(
    "a declared public name answering %s is refused",
    async (name, addresses) => {
      const outcome = await sandbox.exec({
        tool: { code: fetchTool(`http://${name}:${port}/`), manifest: manifestFor([`${name}:${port}`]) },
        input: {},
        limits: FAST,
      });
      expect(outcome, JSON.stringify(outcome).slice(0, 600)).toMatchObject({
        status: "PERMISSION_DENIED",
        permission: { kind: "net", target: `${name}:${port}` },
      });
      expect(outcome.deniedEgress).toEqual([
        expect.objectContaining({
          target: `${name}:${port}`,
          method: "GET",
          reason: expect.stringMatching(/internal address/),
          address: addresses.find((address) => address !== "93.184.216.34"),
        }),
      ]);
    },
  );

  it("a name the operator named reaches the address its one lookup gave (no second lookup)", async () => {
    const before = resolverCalls.filter((host) => host === NAMED_SERVICE).length;
    const outcome = await sandbox.exec({
      tool: {
        code: `
export default async function run(_input: unknown): Promise<unknown> {
  return await (await fetch("http://${NAMED_SERVICE}:${port}/named")).json();
}`,
        manifest: manifestFor([`${NAMED_SERVICE}:${port}`]),
      },
      input: {},
      limits: FAST,
    });
    // The system resolver cannot resolve this name: reaching the server proves the proxy dialled
    // the address its resolver gave, once.
    expect(outcome).toMatchObject({ status: "ok", output: { path: "/named" } });
    expect(outcome.deniedEgress).toBeUndefined();
    expect(resolverCalls.filter((host) => host === NAMED_SERVICE).length).toBe(before + 1);
  });

  it("a tool that catches the refusal still shows it in deniedEgress", async () => {
    const code = readFileSync(join(corpusDir, "net-catches-denial.ts"), "utf8");
    const outcome = await sandbox.exec({
      tool: { code, manifest: manifestFor([]) },
      input: {},
      limits: FAST,
    });
    expect(outcome).toMatchObject({ status: "ok", output: { reached: false } });
    expect(outcome.deniedEgress).toEqual([
      { target: "127.0.0.1:4222", method: "GET", reason: expect.stringMatching(/not declared/) },
    ]);
  });

  it("a declared port is the only port", async () => {
    const outcome = await sandbox.exec({
      tool: {
        code: fetchTool(`http://127.0.0.1:${port + 1}/`),
        manifest: manifestFor([`127.0.0.1:${port}`]),
      },
      input: {},
      limits: FAST,
    });
    expect(outcome).toMatchObject({
      status: "PERMISSION_DENIED",
      permission: { kind: "net", target: `127.0.0.1:${port + 1}` },
      deniedEgress: [{ target: `127.0.0.1:${port + 1}` }],
    });
  });
});
