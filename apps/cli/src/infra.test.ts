import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MetricName } from "@insitu/telemetry";
import { describe, expect, it } from "vitest";
import { findRepoRoot } from "./stack/repo-root.js";

// Checks of the checked-in deployment files against the code they describe (files only).
const root = findRepoRoot();
const serviceDirs = readdirSync(join(root, "services"));

describe("grafana dashboard", () => {
  const dashboard = JSON.parse(readFileSync(join(root, "infra/grafana/insitu-tool-growth.json"), "utf8")) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const known = new Set<string>([...Object.values(MetricName), "insitu_gateway_http_requests_total"]);

  it("queries only metrics that insitu exports", () => {
    const used = dashboard.panels.flatMap((panel) =>
      panel.targets.flatMap((target) => target.expr.match(/insitu_[a-z_]+/g) ?? []),
    );
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((name) => !known.has(name))).toEqual([]);
  });

  it("shows library size, EGL, calls by outcome and reuse", () => {
    const titles = dashboard.panels.map((panel) => panel.title).join("\n");
    for (const title of ["Library size", "EGL", "Tool calls by outcome", "Reuse rate"])
      expect(titles).toContain(title);
  });
});

describe("docker-compose and kubernetes", () => {
  const compose = readFileSync(join(root, "docker-compose.yml"), "utf8");
  const deployments = readFileSync(join(root, "infra/k8s/base/roles.yaml"), "utf8");

  it("runs only services that exist, each with SERVICE set to its own name", () => {
    const composeServices = [
      ...compose.matchAll(/^ {2}([a-z-]+):\n(?: {4}.*\n)*? {6}SERVICE: ([a-z-]+)$/gm),
    ].map((match) => [match[1], match[2]]);
    expect(composeServices.length).toBeGreaterThanOrEqual(5);
    for (const [name, service] of composeServices) {
      expect(service).toBe(name);
      expect(serviceDirs).toContain(name);
    }
    const k8sServices = [...deployments.matchAll(/^kind: Deployment\nmetadata:\n {2}name: ([a-z-]+)$/gm)].map(
      (match) => match[1],
    );
    expect(k8sServices.sort()).toEqual(composeServices.map(([name]) => name).sort());
  });
});
