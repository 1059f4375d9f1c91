import { execFile, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@insitu/bus";
import { MetricName } from "@insitu/telemetry";
import { describe, expect, it } from "vitest";
import { findRepoRoot } from "./stack/repo-root.js";

// The monitoring files checked by the real tools: promtool (config, rules, rule unit tests) and a
// real Prometheus scraping a /metrics endpoint found through the file_sd file `insitu up` writes.
// CI installs both (scripts/setup.sh: `apt-get install prometheus`); without them this fails.
const run = promisify(execFile);
const root = findRepoRoot();
const PROMTOOL = process.env.PROMTOOL_BIN ?? "promtool";
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? "prometheus";

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { cwd: root });
    return stdout + stderr;
  } catch (error) {
    const failed = error as { code?: string; stdout?: string; stderr?: string };
    if (failed.code === "ENOENT") {
      throw new Error("promtool is missing: run `npm run setup` as root or `apt-get install -y prometheus`");
    }
    throw new Error(`promtool ${args.join(" ")} failed:\n${failed.stdout ?? ""}${failed.stderr ?? ""}`);
  }
}

describe("prometheus files", () => {
  it("the config is valid from the repo root and loads the alert rules", async () => {
    const out = await promtool("check", "config", "infra/prometheus/prometheus.yml");
    expect(out).toContain("SUCCESS: 1 rule files found");
    expect(out).toContain("7 rules found");
  });

  it("every alert rule fires on the series that should trip it, and only then", async () => {
    expect(await promtool("check", "rules", "infra/prometheus/alerts.yml")).toContain(
      "SUCCESS: 7 rules found",
    );
    const out = await promtool("test", "rules", "infra/prometheus/alerts.test.yml");
    expect(out).toContain("SUCCESS");
    // Every alert has at least one unit test.
    const alerts = [
      ...readFileSync(join(root, "infra/prometheus/alerts.yml"), "utf8").matchAll(/alert: (\w+)/g),
    ];
    const tests = readFileSync(join(root, "infra/prometheus/alerts.test.yml"), "utf8");
    for (const [, name] of alerts) expect(tests).toContain(`alertname: ${name}`);
  });

  it("alerts query only metrics insitu exports", () => {
    const known = new Set<string>([...Object.values(MetricName), "insitu_bad_entries_total"]);
    const used =
      readFileSync(join(root, "infra/prometheus/alerts.yml"), "utf8").match(/insitu_[a-z_]+/g) ?? [];
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !known.has(name))).toEqual([]);
  });

  it("no gauge is named like a counter (`_total`)", () => {
    const names = MetricName as Record<string, string>;
    const offenders: string[] = [];
    for (const base of ["apps", "libs", "services"]) {
      for (const pkg of readdirSync(join(root, base))) {
        const dir = join(root, base, pkg, "src");
        let files: string[] = [];
        try {
          files = readdirSync(dir, { recursive: true }) as string[];
        } catch {
          continue;
        }
        for (const file of files.filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))) {
          const text = readFileSync(join(dir, file), "utf8");
          for (const match of text.matchAll(/new Gauge\(\{\s*name:\s*(?:MetricName\.(\w+)|"([^"]+)")/g)) {
            const name = match[1] ? names[match[1]] : match[2];
            if (name?.endsWith("_total")) offenders.push(`${base}/${pkg}/src/${file}: ${name}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("a real Prometheus run from the repo root finds the services through the file `insitu up` writes", async () => {
    // Same layout as the repo: <root>/infra/prometheus/*.yml and <root>/.data/prometheus/targets.json.
    const fakeRoot = mkdtempSync(join(tmpdir(), "insitu-prom-"));
    const metrics = createServer((_request, response) => {
      response.setHeader("content-type", "text/plain; version=0.0.4");
      response.end("# TYPE insitu_probe gauge\ninsitu_probe 42\n");
    });
    const metricsPort = await freePort();
    await new Promise<void>((resolve) => metrics.listen(metricsPort, "127.0.0.1", resolve));
    const webPort = await freePort();
    cpSync(join(root, "infra/prometheus"), join(fakeRoot, "infra/prometheus"), { recursive: true });
    mkdirSync(join(fakeRoot, ".data/prometheus"), { recursive: true });
    writeFileSync(
      join(fakeRoot, ".data/prometheus/targets.json"),
      JSON.stringify([{ targets: [`127.0.0.1:${metricsPort}`], labels: { role: "probe" } }]),
    );
    const child = spawn(
      PROMETHEUS,
      [
        "--config.file=infra/prometheus/prometheus.yml",
        `--storage.tsdb.path=${join(fakeRoot, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${webPort}`,
      ],
      { cwd: fakeRoot, stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      log += chunk;
    });
    try {
      const deadline = Date.now() + 40_000;
      let value: string | undefined;
      while (Date.now() < deadline && value === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const answer = await fetch(
          `http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent('insitu_probe{job="insitu-local",role="probe"}')}`,
        )
          .then(
            (response) => response.json() as Promise<{ data?: { result?: { value: [number, string] }[] } }>,
          )
          .catch(() => undefined);
        value = answer?.data?.result?.[0]?.value[1];
      }
      expect(value, log.slice(-2000)).toBe("42");
      const rules = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/rules`)).json()) as {
        data: { groups: { rules: unknown[] }[] };
      };
      expect(rules.data.groups[0]?.rules).toHaveLength(7);
    } finally {
      child.kill("SIGKILL");
      metrics.close();
      rmSync(fakeRoot, { recursive: true, force: true });
    }
  });
});
