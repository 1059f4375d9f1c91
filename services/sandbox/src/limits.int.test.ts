import type { ToolManifest } from "@insitu/tool-kit";
import { afterAll, describe, expect, it } from "vitest";
import { EnforcementMechanism, detectEnforcement } from "./enforcement.js";
import { defaultPolicy } from "./policy.js";
import { Sandbox } from "./sandbox.js";

// Each limit mechanism, forced, against the real binary: the prlimit fallback must hold where no
// cgroup is writable, and the cgroup mechanism this machine offers must hold too.
const manifest: ToolManifest = {
  name: "probe_limits",
  description: "Resource limit probe.",
  inputSchema: { type: "object" },
  outputSchema: {},
  permissions: { network: [], secrets: [] },
};
const programs = {
  ok: "return { fine: true };",
  heap: "const hoard = []; while (true) hoard.push(new Array(1_000_000).fill(Math.random()));",
  arrayBuffers: "const hoard = []; while (true) hoard.push(new Uint8Array(64 * 1024 * 1024).fill(7));",
  spin: "while (true) {}",
  // Disk filling (ADR 0135): a quota polled on the work dir stops it in every mode, root or not.
  // Each keeps what it wrote and stays running, as a disk filler does; a burst written and returned
  // within one poll interval is the quota's known window (the work dir is removed after the call).
  manyFiles:
    'const chunk = new Uint8Array(4 * 1024 * 1024).fill(1); for (let i = 0; i < 64; i++) Deno.writeFileSync("f" + i + ".bin", chunk); await new Promise((resolve) => setTimeout(resolve, 5000)); return "wrote 256 MB";',
  smallFiles: 'for (let i = 0; i < 1_000_000; i++) Deno.writeFileSync("e" + i, new Uint8Array(0)); return 0;',
  unlinked:
    'const chunk = new Uint8Array(1024 * 1024).fill(3); const held = []; for (let i = 0; i < 32; i++) { const file = Deno.openSync("h" + i, { write: true, create: true }); Deno.removeSync("h" + i); for (let mb = 0; mb < 8; mb++) file.writeSync(chunk); held.push(file); } await new Promise((resolve) => setTimeout(resolve, 5000)); return held.length;',
  underQuota:
    'const chunk = new Uint8Array(1024 * 1024).fill(1); for (let i = 0; i < 16; i++) Deno.writeFileSync("f" + i + ".bin", chunk); return { files: [...Deno.readDirSync(".")].length };',
  threads:
    'const workers = []; for (let i = 0; i < 200; i++) workers.push(new Worker("data:text/javascript,setInterval(() => {}, 1000)", { type: "module" })); await new Promise((resolve) => setTimeout(resolve, 5000)); return workers.length;',
};

const sandboxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
});

const available = detectEnforcement();
const mechanisms = [
  EnforcementMechanism.prlimit,
  ...(available.mechanism === EnforcementMechanism.prlimit ? [] : [available.mechanism]),
];
available.dispose();

describe.each(mechanisms)("limits under %s", (mechanism) => {
  const sandbox = new Sandbox({
    policy: defaultPolicy(),
    enforcement: detectEnforcement({ forceMechanism: mechanism }),
    warm: { perProfile: 0 },
    concurrency: 2,
    // prlimit runs as the shipped image does: work dirs on disk (no tmpfs without root).
    workTmpfsBytes: mechanism === EnforcementMechanism.prlimit ? false : undefined,
    workQuota: { maxBytes: 64 * 1024 * 1024, maxFiles: 2000 },
  });
  sandboxes.push(sandbox);
  const run = (body: string, memoryMb = 128, timeoutMs = 1500) =>
    sandbox.exec({
      tool: { code: `export default async function run(): Promise<unknown> { ${body} }`, manifest },
      input: {},
      limits: { timeoutMs, memoryMb },
    });

  it("is the mechanism in force", () => {
    expect(sandbox.enforcement.mechanism).toBe(mechanism);
  });

  it.concurrent.each([
    ["ok", "ok"],
    ["heap", "MEMORY_LIMIT"],
    ["arrayBuffers", "MEMORY_LIMIT"],
    ["spin", "TIMEOUT"],
  ] as const)("%s → %s", async (program, status) => {
    // Memory bombs end on their own within a second; the long wall limit only keeps a loaded CI
    // machine from turning them into TIMEOUTs.
    const outcome = await run(programs[program], 128, status === "MEMORY_LIMIT" ? 10_000 : 1500);
    expect(outcome.status, JSON.stringify(outcome).slice(0, 400)).toBe(status);
    if (outcome.status === "MEMORY_LIMIT" && mechanism === EnforcementMechanism.prlimit) {
      // RLIMIT_DATA cannot go below what Deno needs to start; the outcome says what applied.
      expect(outcome.limitMb).toBeGreaterThanOrEqual(128);
    }
  });

  it.concurrent.each([
    ["manyFiles", /work dir exceeded its quota: \d+ MiB \(quota 64 MiB\)/],
    ["smallFiles", /work dir exceeded its quota: more than 2000 files/],
    ["unlinked", /MiB in removed files still open/],
  ] as const)("disk filling by %s ends OUTPUT_LIMIT at the work-dir quota", async (program, note) => {
    // 512 MiB of memory: on tmpfs the files are charged to the call (with Deno's own pages, which
    // under cgroup v1 include page cache), and the point here is the quota, not the memory limit.
    // A long wall limit: creating files on a loaded 2-core machine is slow, and the point is which
    // limit ends the call.
    const outcome = await run(programs[program], 512, 30_000);
    expect(outcome.status, JSON.stringify(outcome).slice(0, 400)).toBe("OUTPUT_LIMIT");
    expect(outcome.logs ?? "").toMatch(note);
  });

  it("a tool that stays under the work-dir quota is not disturbed", async () => {
    const outcome = await run(programs.underQuota, 256, 10_000);
    expect(outcome).toMatchObject({ status: "ok", output: { files: 16 } });
  });

  it("bounds threads (workers) without harming the host", async () => {
    // A generous wall limit: starting 200 isolates on a loaded 2-core machine takes a while, and the
    // point is which limit ends it.
    const outcome = await run(programs.threads, 256, 10_000);
    // 200 isolates need far more than 256 MiB under a cgroup; under prlimit each isolate's
    // virtual-memory reservation meets RLIMIT_DATA ("Failed to reserve virtual memory for CodeRange").
    expect(outcome.status, JSON.stringify(outcome).slice(0, 300)).toBe("MEMORY_LIMIT");
  });
});

describe("a tool that outruns the work-dir poll", () => {
  // The poll never comes during the call (one minute apart): only the measurement taken when the
  // call ends can see the quota broken — as when a burst of writes beats the poll on a loaded machine.
  const sandbox = new Sandbox({
    policy: defaultPolicy(),
    enforcement: detectEnforcement({ forceMechanism: EnforcementMechanism.prlimit }),
    warm: { perProfile: 0 },
    workTmpfsBytes: false,
    workQuota: { maxBytes: 16 * 1024 * 1024, maxFiles: 2000, pollMs: 60_000 },
  });
  sandboxes.push(sandbox);

  it("is judged by what its work dir holds at the end: OUTPUT_LIMIT, not ok", async () => {
    const outcome = await sandbox.exec({
      tool: {
        code: `export default async function run(): Promise<unknown> {
  const chunk = new Uint8Array(4 * 1024 * 1024).fill(1);
  for (let i = 0; i < 8; i++) Deno.writeFileSync("f" + i + ".bin", chunk);
  await new Promise((resolve) => setTimeout(resolve, 100));
  return "wrote 32 MB";
}`,
        manifest,
      },
      input: {},
      limits: { timeoutMs: 30_000, memoryMb: 256 },
    });
    expect(outcome.status, JSON.stringify(outcome).slice(0, 400)).toBe("OUTPUT_LIMIT");
    expect(outcome.logs ?? "").toMatch(/work dir exceeded its quota: \d+ MiB \(quota 16 MiB\)/);
  }, 60_000);
});
