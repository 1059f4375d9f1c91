import {
  existsSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { describeQuotaBreach, measureWorkDir, removeWorkDir, watchWorkDir } from "./work-quota.js";

// Real folders in the OS temp dir (no fakes needed); the whole path through Deno is in
// limits.int.test.ts and the security corpus.
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "work-quota-"));
  dirs.push(dir);
  return dir;
}
function writeBytes(path: string, bytes: number): void {
  const fd = openSync(path, "w");
  writeSync(fd, Buffer.alloc(bytes, 1));
  closeSync(fd);
}

describe("measureWorkDir", () => {
  it("counts bytes and entries in nested folders, links not followed", async () => {
    const dir = workDir();
    mkdirSync(join(dir, "a", "b"), { recursive: true });
    writeBytes(join(dir, "a", "b", "one.bin"), 100_000);
    writeBytes(join(dir, "two.bin"), 50_000);
    // A link to a big file outside must not count that file.
    symlinkSync("/usr/bin/env", join(dir, "link"));
    const usage = await measureWorkDir(dir, undefined, 100);
    expect(usage.files).toBe(5); // a, a/b, a/b/one.bin, two.bin, link
    expect(usage.bytes).toBeGreaterThanOrEqual(150_000);
    expect(usage.bytes).toBeLessThan(150_000 + 5 * 64 * 1024);
  });

  it("stops walking once past the entry cap", async () => {
    const dir = workDir();
    for (let i = 0; i < 50; i++) writeBytes(join(dir, `f${i}`), 0);
    expect((await measureWorkDir(dir, undefined, 10)).files).toBe(11);
  });

  it("counts files this process removed but still holds open", async () => {
    const dir = workDir();
    const path = join(dir, "hidden.bin");
    const fd = openSync(path, "w");
    try {
      unlinkSync(path);
      writeSync(fd, Buffer.alloc(3 * 1024 * 1024, 2));
      const usage = await measureWorkDir(dir, process.pid, 100);
      expect(usage.files).toBe(0);
      expect(usage.unlinkedOpenBytes).toBeGreaterThanOrEqual(3 * 1024 * 1024);
      expect(usage.bytes).toBe(usage.unlinkedOpenBytes);
      expect(describeQuotaBreach(usage, { maxBytes: 1024 * 1024, maxFiles: 10, pollMs: 20 })).toMatch(
        /3 MiB \(quota 1 MiB, 3 MiB in removed files still open\)/,
      );
    } finally {
      closeSync(fd);
    }
  });
});

describe("watchWorkDir", () => {
  it("reports once when the folder grows past the quota, and never below it", async () => {
    const dir = workDir();
    const breaches: number[] = [];
    const watch = watchWorkDir(dir, undefined, { maxBytes: 1024 * 1024, maxFiles: 100, pollMs: 5 }, (usage) =>
      breaches.push(usage.bytes),
    );
    writeBytes(join(dir, "small.bin"), 512 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(breaches).toEqual([]);
    writeBytes(join(dir, "big.bin"), 1024 * 1024);
    const deadline = Date.now() + 2000;
    while (breaches.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    writeBytes(join(dir, "more.bin"), 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 40));
    await watch.stop();
    expect(breaches).toHaveLength(1);
    expect(breaches[0]).toBeGreaterThan(1024 * 1024);
  });

  it("reports too many entries even when they are empty", async () => {
    const dir = workDir();
    let files = 0;
    const watch = watchWorkDir(
      dir,
      undefined,
      { maxBytes: 1024 * 1024 * 1024, maxFiles: 20, pollMs: 5 },
      (usage) => {
        files = usage.files;
      },
    );
    for (let i = 0; i < 30; i++) writeBytes(join(dir, `e${i}`), 0);
    const deadline = Date.now() + 2000;
    while (files === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await watch.stop();
    expect(files).toBe(21);
  });
});

describe("removeWorkDir", () => {
  it("removes nested folders, files and links (not the links' targets)", async () => {
    const dir = workDir();
    mkdirSync(join(dir, "a", "b"), { recursive: true });
    writeBytes(join(dir, "a", "b", "one.bin"), 10);
    for (let i = 0; i < 200; i++) writeBytes(join(dir, `f${i}`), 1);
    const outside = workDir();
    writeBytes(join(outside, "keep.bin"), 10);
    symlinkSync(outside, join(dir, "link-to-outside"));
    await removeWorkDir(dir);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(outside, "keep.bin"))).toBe(true);
  });
});
