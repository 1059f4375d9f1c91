import type { ToolManifest } from "@insitu/tool-kit";
import { afterAll, describe, expect, it } from "vitest";
import { isAlive } from "./enforcement.js";
import { defaultPolicy } from "./policy.js";
import { Sandbox } from "./sandbox.js";

// ADR 0140: a call is answered once its result frame and the runner's stderr mark are in, before
// the process exits. Real Deno, real limits; cold processes and warm ones alike.
const manifest: ToolManifest = {
  name: "probe_answer",
  description: "Answer-at-the-frame probe.",
  inputSchema: { type: "object" },
  outputSchema: {},
  permissions: { network: [], secrets: [] },
};
const tool = (body: string) => ({
  code: `export default async function run(): Promise<unknown> { ${body} }`,
  manifest,
});

const sandboxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
});

describe.each([
  ["cold", 0],
  ["warm", 1],
] as const)("answering at the frame (%s processes)", (_kind, perProfile) => {
  const sandbox = new Sandbox({ policy: defaultPolicy(), warm: { perProfile }, concurrency: 2 });
  sandboxes.push(sandbox);

  it("keeps every print made before the result, on both streams", async () => {
    // 150 KB on stderr just before returning: the last of it is still in the pipe when the frame
    // arrives on stdout, so an answer taken at the frame alone would lose the end of the logs.
    const outcome = await sandbox.exec({
      tool: tool(`
        console.log("OUT-FIRST");
        const line = "x".repeat(1000);
        for (let i = 0; i < 150; i++) console.error(line);
        console.error("ERR-LAST");
        return { fine: true };`),
      input: {},
    });
    expect(outcome.status, JSON.stringify(outcome).slice(0, 300)).toBe("ok");
    expect(outcome.logs).toContain("OUT-FIRST");
    expect(outcome.logs).toContain("ERR-LAST");
  });

  it("ignores what the process writes after its result (no late logs, no output limit)", async () => {
    // The unload handler runs when the runner exits after the frame: 2 MB on each stream, far
    // beyond the output cap, none of which may reach the answer.
    const outcome = await sandbox.exec({
      tool: tool(`
        globalThis.addEventListener("unload", () => {
          const late = new TextEncoder().encode("LATE ".repeat(20000));
          for (let i = 0; i < 20; i++) { Deno.stderr.writeSync(late); Deno.stdout.writeSync(late); }
        });
        console.error("EARLY");
        return { fine: true };`),
      input: {},
    });
    expect(outcome.status, JSON.stringify(outcome).slice(0, 300)).toBe("ok");
    if (outcome.status === "ok") expect(outcome.output).toEqual({ fine: true });
    expect(outcome.logs).toContain("EARLY");
    expect(outcome.logs ?? "").not.toContain("LATE");
  });

  it("answers a process that will not exit, then kills and reaps it", async () => {
    const started = performance.now();
    const outcome = await sandbox.exec({
      tool: tool(`
        globalThis.addEventListener("unload", () => { while (true) {} });
        return { pid: Deno.pid };`),
      input: {},
      limits: { timeoutMs: 5000 },
    });
    expect(outcome.status, JSON.stringify(outcome).slice(0, 300)).toBe("ok");
    expect(performance.now() - started).toBeLessThan(5000);
    const pid = (outcome.status === "ok" ? (outcome.output as { pid: number }).pid : 0) ?? 0;
    expect(pid).toBeGreaterThan(1);
    const deadline = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(isAlive(pid)).toBe(false);
  });

  it("strips the runner's ready mark: the tool's own prints come first in its logs", async () => {
    const outcome = await sandbox.exec({
      tool: tool(`console.log("FIRST-PRINT"); return { fine: true };`),
      input: {},
    });
    expect(outcome.status, JSON.stringify(outcome).slice(0, 300)).toBe("ok");
    expect(outcome.logs?.startsWith("FIRST-PRINT")).toBe(true);
    expect(outcome.logs ?? "").not.toContain("ready");
  });

  it("still answers a tool that closed stderr (no mark: read at the exit)", async () => {
    const outcome = await sandbox.exec({
      tool: tool(`Deno.stderr.close(); return { fine: true };`),
      input: {},
    });
    expect(outcome.status, JSON.stringify(outcome).slice(0, 300)).toBe("ok");
  });

  it("a timeout still applies before the frame", async () => {
    const outcome = await sandbox.exec({
      tool: tool("while (true) {}"),
      input: {},
      limits: { timeoutMs: 500 },
    });
    expect(outcome.status).toBe("TIMEOUT");
  });
});
