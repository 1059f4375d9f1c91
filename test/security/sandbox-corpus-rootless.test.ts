/**
 * The hostile corpus in the shipped image's mode (issue 11 point 7, docs/adr/0135): as an
 * unprivileged user, limits by prlimit, work dirs on disk — `scripts/security-rootless.sh` runs
 * `sandbox-corpus.test.ts` that way (dropping to `nobody` when run as root, as CI is) and the corpus
 * then also asserts it really ran non-root, in prlimit mode, on disk. Same cases, same
 * expectations as under root. This test fails — never skips — when that run fails or runs nothing.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const corpusCases = readdirSync(join(repo, "test", "security", "corpus")).filter((file) =>
  file.endsWith(".ts"),
);

describe("hostile corpus without root", () => {
  it(
    "passes every case as an unprivileged user with prlimit limits and work dirs on disk",
    () => {
      const run = spawnSync("bash", [join(repo, "scripts", "security-rootless.sh")], {
        cwd: repo,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
        timeout: 15 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      // The script runs vitest under `env -i`, so colours are not ours to turn off: strip them.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences
      const output = `${run.stdout}\n${run.stderr}`.replace(/\u001b\[[0-9;]*m/g, "");
      const tests = /Tests\s+(?:(\d+) failed \| )?(\d+) passed \((\d+)\)/.exec(output);
      if (run.status !== 0 || !tests) console.error(output.slice(-6000));
      expect(run.status).toBe(0);
      expect(tests).not.toBeNull();
      const [, failed, passed, total] = tests!;
      expect(failed).toBeUndefined();
      // One test per corpus file, plus the limits report that asserts the rootless mode.
      expect(Number(passed)).toBe(Number(total));
      expect(Number(total)).toBeGreaterThanOrEqual(corpusCases.length);
      expect(output).toMatch(/corpus limits: uid [1-9]\d*, prlimit, work dirs on disk/);
    },
    16 * 60_000,
  );
});
