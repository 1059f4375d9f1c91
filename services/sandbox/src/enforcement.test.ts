import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cgroupV2Delegation, detectEnforcement } from "./enforcement.js";

// Fake cgroup trees in a temp dir (plain files stand in for the kernel's), to check what each
// mechanism writes. The real kernel interfaces are exercised by limits.int.test.ts.
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function ownPath(controller: string | undefined): string {
  const line = readFileSync("/proc/self/cgroup", "utf8")
    .trim()
    .split("\n")
    .find((entry) => {
      const [, controllers] = entry.split(":");
      return controller === undefined
        ? controllers === ""
        : (controllers ?? "").split(",").includes(controller);
    });
  return line?.split(":")[2] ?? "/";
}

describe("detectEnforcement", () => {
  it("uses cgroup v1 memory and pids hierarchies and writes the call's limits", () => {
    const root = mkdtempSync(join(tmpdir(), "fake-cgroup-"));
    roots.push(root);
    const memoryOwn = join(root, "memory", ownPath("memory"));
    const pidsOwn = join(root, "pids", ownPath("pids"));
    mkdirSync(memoryOwn, { recursive: true });
    mkdirSync(pidsOwn, { recursive: true });
    writeFileSync(join(root, "memory", "memory.limit_in_bytes"), "max");
    writeFileSync(join(root, "pids", "pids.max"), "max");
    const enforcement = detectEnforcement({ root, forceMechanism: "cgroup-v1" });
    expect(enforcement.mechanism).toBe("cgroup-v1");
    const group = enforcement.createCallGroup("call-1", { memoryBytes: 128 * 1024 * 1024, pids: 64 });
    const memoryDir = join(memoryOwn, `insitu-sandbox-${process.pid}`, "call-1");
    expect(readFileSync(join(memoryDir, "memory.limit_in_bytes"), "utf8")).toBe(String(128 * 1024 * 1024));
    expect(readFileSync(join(pidsOwn, `insitu-sandbox-${process.pid}`, "call-1", "pids.max"), "utf8")).toBe(
      "64",
    );
    group?.add(4242);
    expect(readFileSync(join(memoryDir, "cgroup.procs"), "utf8")).toBe("4242");
    writeFileSync(join(memoryDir, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    expect(group?.memoryExceeded()).toBe(true);
  });

  it("uses delegated cgroup v2 controllers when present", () => {
    const root = mkdtempSync(join(tmpdir(), "fake-cgroup-"));
    roots.push(root);
    const own = join(root, ownPath(undefined));
    mkdirSync(own, { recursive: true });
    writeFileSync(join(root, "cgroup.controllers"), "cpu memory pids");
    writeFileSync(join(own, "cgroup.controllers"), "cpu memory pids");
    writeFileSync(join(own, "cgroup.subtree_control"), "memory pids");
    writeFileSync(join(own, "cgroup.procs"), "");
    expect(cgroupV2Delegation(root)).toMatchObject({ delegated: true });
    const enforcement = detectEnforcement({ root, forceMechanism: "cgroup-v2" });
    expect(enforcement.mechanism).toBe("cgroup-v2");
    enforcement.createCallGroup("call-2", { memoryBytes: 1024, pids: 8 });
    const dir = join(own, `insitu-sandbox-${process.pid}`, "call-2");
    expect(readFileSync(join(dir, "memory.max"), "utf8")).toBe("1024");
    expect(readFileSync(join(dir, "pids.max"), "utf8")).toBe("8");
  });

  it("says why cgroup v2 is not delegated: no mount, or a hybrid host's controller-less unified tree", () => {
    const root = mkdtempSync(join(tmpdir(), "fake-cgroup-"));
    roots.push(root);
    expect(cgroupV2Delegation(root)).toEqual({
      delegated: false,
      detail: expect.stringMatching(/cgroup v1 only/),
    });
    // Hybrid (this machine): v1 controllers, and a unified tree at <root>/unified holding only hugetlb.
    const own = join(root, "unified", ownPath(undefined));
    mkdirSync(own, { recursive: true });
    writeFileSync(join(root, "unified", "cgroup.controllers"), "hugetlb");
    writeFileSync(join(own, "cgroup.controllers"), "hugetlb");
    expect(cgroupV2Delegation(root)).toEqual({
      delegated: false,
      detail: expect.stringMatching(
        /memory\/pids controllers not delegated .*\(have: hugetlb\) \(hybrid host/,
      ),
    });
  });

  it("falls back to prlimit and says why", () => {
    const root = mkdtempSync(join(tmpdir(), "fake-cgroup-"));
    roots.push(root);
    const enforcement = detectEnforcement({ root });
    expect(enforcement.mechanism).toBe("prlimit");
    expect(enforcement.reason).toMatch(/cgroup v2: .*cgroup v1: no v1 memory hierarchy/);
    expect(enforcement.createCallGroup("x", { memoryBytes: 1, pids: 1 })).toBeUndefined();
  });
});
