import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isAlive } from "./enforcement.js";
import { defaultPolicy } from "./policy.js";
import { Sandbox } from "./sandbox.js";

describe("a replica killed outright", () => {
  it("leaves nothing behind once the next replica starts: hung calls killed, folders removed", async () => {
    const script = fileURLToPath(new URL("./fixtures/hanging-replica.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let mechanism = "";
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!line.startsWith("replica ")) return;
        mechanism = (JSON.parse(line.slice(8)) as { mechanism: string }).mechanism;
        resolve();
      });
    });
    const replicaPrefix = `insitu-sandbox-${child.pid}-`;
    // Wait until the call's Deno process is running (a child of the replica).
    let denoPid: number | undefined;
    for (let tries = 0; tries < 400 && denoPid === undefined; tries += 1) {
      denoPid = findChildDeno(child.pid!);
      if (denoPid === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(denoPid).toBeDefined();
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(isAlive(denoPid!)).toBe(true);
    expect(readdirSync(tmpdir()).some((name) => name.startsWith(replicaPrefix))).toBe(true);

    const next = new Sandbox({ policy: defaultPolicy(), warm: { perProfile: 0 } });
    try {
      expect(readdirSync(tmpdir()).some((name) => name.startsWith(replicaPrefix))).toBe(false);
      if (mechanism !== "prlimit") {
        for (let tries = 0; tries < 200 && isAlive(denoPid!); tries += 1)
          await new Promise((resolve) => setTimeout(resolve, 10));
        expect(isAlive(denoPid!)).toBe(false);
      }
    } finally {
      await next.close();
      if (denoPid !== undefined && isAlive(denoPid)) process.kill(denoPid, "SIGKILL");
    }
  });
});

/** The pid of a `deno` process whose parent is `parent` (prlimit execs into deno, keeping the pid). */
function findChildDeno(parent: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const name = /^Name:\s+(\S+)/m.exec(status)?.[1];
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      if (name === "deno" && ppid === parent) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}
