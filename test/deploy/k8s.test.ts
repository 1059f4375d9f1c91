import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as contracts from "@insitu/contracts";
import { APPROVAL_POLICY_VARIABLE, loadApprovalPolicy } from "@insitu/roles";
import { MetricName } from "@insitu/telemetry";
import { defaultApprovalPolicy } from "@insitu/tool-kit";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { findRepoRoot } from "../harness/stack.js";
import { type K8sObject, render, renderWith } from "./render.js";
import { validateObject } from "./validate.js";

/**
 * The Kubernetes manifests, rendered by real kustomize (kubectl kustomize) for each overlay and
 * component, every object validated against its schema, then checked for what matters: the
 * consumers KEDA reads are the ones the services create, images come from the overlay, every
 * container is limited, probed and non-root, the network is least-privilege, and every metric a
 * dashboard or alert queries is one a service exports. docs/adr/0080, 0081, 0082, 0084.
 */
const root = findRepoRoot();
const k8s = join(root, "infra/k8s");
const OVERLAYS = ["dev", "prod"] as const;
const rendered: Record<string, K8sObject[]> = {};

beforeAll(() => {
  for (const overlay of OVERLAYS) rendered[overlay] = render(join(k8s, "overlays", overlay));
  rendered["dev+without-keda+gvisor"] = renderWith(
    k8s,
    [join(k8s, "overlays/dev")],
    [join(k8s, "components/without-keda"), join(k8s, "components/gvisor")],
  );
});

const all = () => Object.entries(rendered);
const ofKind = (objects: K8sObject[], kind: string) => objects.filter((object) => object.kind === kind);
const workloads = (objects: K8sObject[]) =>
  objects.filter((object) => object.kind === "Deployment" || object.kind === "StatefulSet");

/** Role → the work-queue contracts its service consumes, read from services/<role>/src. */
function consumedQueues(): Map<string, contracts.WorkQueueContract[]> {
  const queues = new Map<string, contracts.WorkQueueContract[]>();
  const exported = contracts as unknown as Record<string, unknown>;
  for (const role of readdirSync(join(root, "services"))) {
    const dir = join(root, "services", role, "src");
    let sources = "";
    try {
      for (const file of readdirSync(dir))
        if (file.endsWith(".ts") && !file.includes(".test.")) {
          sources += readFileSync(join(dir, file), "utf8");
        }
    } catch {
      continue;
    }
    // A durable other than the stream's own name would need the ScaledObject to name it too.
    expect(sources, `${role} passes its own durable name`).not.toMatch(/durable\s*:/);
    const names = [
      ...sources.matchAll(/(?:consumeRoleWork\(\s*\w+\s*,|\.consume\(|defineRoleStep\(\{\s*work:)\s*(\w+)/g),
    ].map((m) => m[1]!);
    const found = names
      .map((name) => exported[name] as contracts.WorkQueueContract | undefined)
      .filter((contract): contract is contracts.WorkQueueContract => contract?.kind === "work-queue");
    if (found.length > 0) queues.set(role, found);
  }
  return queues;
}

function env(objects: K8sObject[]): Record<string, string> {
  // The generated ConfigMap's name carries a content hash (insitu-env-<hash>).
  return ofKind(objects, "ConfigMap").find((object) =>
    /^insitu-env(-[a-z0-9]+)?$/.test(object.metadata.name),
  )!.data;
}

describe("kubernetes manifests", () => {
  it("render for every overlay and validate against the Kubernetes, KEDA and Prometheus Operator schemas", async () => {
    for (const [name, objects] of all()) {
      expect(objects.length, name).toBeGreaterThan(30);
      for (const object of objects) {
        await expect(
          validateObject(object),
          `${name}: ${object.kind}/${object.metadata.name}`,
        ).resolves.toBeUndefined();
      }
    }
  });

  it("rejects a broken object (the validator is really checking)", async () => {
    const deployment = structuredClone(ofKind(rendered.prod!, "Deployment")[0]!);
    delete deployment.spec.template.spec.containers[0].name;
    await expect(validateObject(deployment)).rejects.toThrow(/name/);
    const scaled = structuredClone(ofKind(rendered.prod!, "ScaledObject")[0]!);
    scaled.spec.triggers[0].metadata = "not-a-map";
    await expect(validateObject(scaled)).rejects.toThrow();
    await expect(
      validateObject({ apiVersion: "example.com/v1", kind: "Thing", metadata: { name: "x" } }),
    ).rejects.toThrow(/no schema/);
  });

  it("scales every queue role on the lag of the durable consumer its service creates", () => {
    const queues = consumedQueues();
    expect([...queues.keys()]).toEqual(
      expect.arrayContaining(["executor", "integrator", "manager", "tool-developer"]),
    );
    for (const [name, objects] of all()) {
      const scaled = ofKind(objects, "ScaledObject");
      const prefix = env(objects).NATS_PREFIX!;
      const naming = {
        stream: (relative: string) => `${prefix}_${relative}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_"),
      };
      const headless = ofKind(objects, "Service").filter(
        (service) =>
          service.spec.clusterIP === "None" &&
          service.spec.ports.some((port: { port: number }) => port.port === 8222),
      );
      if (name.includes("without-keda")) {
        expect(scaled).toEqual([]);
        const hpas = ofKind(objects, "HorizontalPodAutoscaler").map((hpa) => hpa.spec.scaleTargetRef.name);
        for (const role of queues.keys()) expect(hpas, `${name}: HPA fallback for ${role}`).toContain(role);
        continue;
      }
      for (const [role, contractsOfRole] of queues) {
        const object = scaled.find((candidate) => candidate.spec.scaleTargetRef.name === role);
        expect(object, `${name}: ScaledObject for ${role}`).toBeDefined();
        const trigger = object!.spec.triggers.find((t: { type: string }) => t.type === "nats-jetstream");
        const expected = contractsOfRole.map((contract) => naming.stream(contract.stream));
        // The bus names the durable after its stream (libs/bus consume()).
        expect(expected, `${name}: ${role}`).toContain(trigger.metadata.stream);
        expect(trigger.metadata.consumer, `${name}: ${role}`).toBe(trigger.metadata.stream);
        const [host, port] = trigger.metadata.natsServerMonitoringEndpoint.split(":");
        expect(port).toBe("8222");
        expect(
          headless.map(
            (service) => `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`,
          ),
        ).toContain(host);
        expect(trigger.metadata.account).toBe("$G");
        // Scale to zero only for roles that answer no requests.
        const serves = readdirSync(join(root, "services", role, "src"))
          .filter((file) => file.endsWith(".ts") && !file.includes(".test."))
          .some((file) =>
            /bus\.serve\(|\.serve\(\{/.test(readFileSync(join(root, "services", role, "src", file), "utf8")),
          );
        expect(object!.spec.minReplicaCount, `${name}: ${role} min replicas`).toBe(serves ? 1 : 0);
      }
      // No ScaledObject and HPA fight over one Deployment.
      const hpaTargets = ofKind(objects, "HorizontalPodAutoscaler").map(
        (hpa) => hpa.spec.scaleTargetRef.name,
      );
      for (const object of scaled) expect(hpaTargets).not.toContain(object.spec.scaleTargetRef.name);
    }
  });

  it("sets every image from the overlay, with a tag", () => {
    for (const overlay of OVERLAYS) {
      const kustomization = parse(
        readFileSync(join(k8s, "overlays", overlay, "kustomization.yaml"), "utf8"),
      ) as {
        images: { name: string; newName?: string; newTag?: string }[];
      };
      const insitu = kustomization.images.find((image) => image.name === "insitu")!;
      for (const workload of workloads(rendered[overlay]!)) {
        for (const container of workload.spec.template.spec.containers) {
          const last = String(container.image).split("/").pop();
          expect(last, `${overlay}: ${workload.metadata.name}`).toMatch(
            /^[\w.-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/,
          );
          expect(container.image).not.toContain("set-by-overlay");
          if (workload.metadata.name !== "nats") {
            expect(container.image, `${overlay}: ${workload.metadata.name}`).toBe(
              `${insitu.newName}:${insitu.newTag}`,
            );
          }
        }
      }
    }
  });

  it("limits, probes and runs every container as non-root on a read-only root filesystem", () => {
    for (const [name, objects] of all()) {
      const drainSeconds = Number(env(objects).DRAIN_TIMEOUT_MS) / 1000;
      for (const workload of workloads(objects)) {
        const pod = workload.spec.template.spec;
        const where = `${name}: ${workload.kind}/${workload.metadata.name}`;
        expect(pod.automountServiceAccountToken, where).toBe(false);
        expect(pod.securityContext?.seccompProfile?.type, where).toBe("RuntimeDefault");
        expect(pod.terminationGracePeriodSeconds, where).toBeGreaterThan(
          workload.metadata.name === "nats" ? 30 : drainSeconds,
        );
        for (const container of pod.containers) {
          const at = `${where} ${container.name}`;
          expect(container.resources?.limits?.memory, at).toBeDefined();
          expect(container.resources?.limits?.cpu, at).toBeDefined();
          expect(container.resources?.requests?.memory, at).toBeDefined();
          expect(container.readinessProbe, at).toBeDefined();
          expect(container.livenessProbe, at).toBeDefined();
          const runAsNonRoot = container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
          const runAsUser = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
          expect(runAsNonRoot, at).toBe(true);
          expect(runAsUser, at).toBeGreaterThan(0);
          expect(container.securityContext?.readOnlyRootFilesystem, at).toBe(true);
          expect(container.securityContext?.allowPrivilegeEscalation, at).toBe(false);
          expect(container.securityContext?.capabilities?.drop, at).toEqual(["ALL"]);
        }
      }
      // Every workload has a disruption budget that selects it.
      const pdbs = ofKind(objects, "PodDisruptionBudget");
      for (const workload of workloads(objects)) {
        const labels = workload.spec.template.metadata.labels as Record<string, string>;
        const covered = pdbs.some((pdb) =>
          Object.entries(pdb.spec.selector.matchLabels as Record<string, string>).every(
            ([k, v]) => labels[k] === v,
          ),
        );
        expect(covered, `${name}: PDB for ${workload.metadata.name}`).toBe(true);
      }
    }
  });

  it("hardens the sandbox: memory-backed work dir, prlimit limits, optional gVisor", () => {
    for (const [name, objects] of all()) {
      const sandbox = ofKind(objects, "Deployment").find((object) => object.metadata.name === "sandbox")!;
      const pod = sandbox.spec.template.spec;
      const container = pod.containers[0];
      const envOf = Object.fromEntries(
        container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
      );
      const work = container.volumeMounts.find(
        (mount: { mountPath: string }) => mount.mountPath === envOf.TMPDIR,
      );
      expect(work, name).toBeDefined();
      expect(pod.volumes.find((volume: { name: string }) => volume.name === work.name).emptyDir.medium).toBe(
        "Memory",
      );
      expect(envOf.SANDBOX_LIMITS).toBe("prlimit");
      expect(pod.runtimeClassName).toBe(name.includes("gvisor") ? "gvisor" : undefined);
      if (name.includes("gvisor"))
        expect(ofKind(objects, "RuntimeClass").map((rc) => rc.handler)).toEqual(["runsc"]);
    }
  });

  it("lets the sandbox reach only the bus, DNS and public HTTPS, and every role only from what calls it", () => {
    for (const [name, objects] of all()) {
      const policies = ofKind(objects, "NetworkPolicy");
      const deny = policies.find(
        (policy) =>
          Object.keys(policy.spec.podSelector).length === 0 && !policy.spec.ingress && !policy.spec.egress,
      );
      expect(deny?.spec.policyTypes, `${name}: default deny`).toEqual(["Ingress", "Egress"]);
      const selects = (policy: K8sObject, labels: Record<string, string>) =>
        Object.entries((policy.spec.podSelector.matchLabels ?? {}) as Record<string, string>).every(
          ([k, v]) => labels[k] === v,
        );
      for (const deployment of ofKind(objects, "Deployment")) {
        const labels = deployment.spec.template.metadata.labels as Record<string, string>;
        const role = deployment.metadata.name;
        const applying = policies.filter((policy) => selects(policy, labels));
        // Ingress: only Prometheus (monitoring) and, for the gateway, the ingress controller.
        const ingressPeers = applying
          .flatMap((policy) => policy.spec.ingress ?? [])
          .flatMap((rule: { from: unknown[] }) => rule.from);
        const allowedNamespaces = role === "gateway" ? ["monitoring", "ingress-nginx"] : ["monitoring"];
        for (const peer of ingressPeers as {
          podSelector?: unknown;
          ipBlock?: unknown;
          namespaceSelector?: { matchLabels: Record<string, string> };
        }[]) {
          expect(peer.podSelector, `${name}: ${role} ingress from pods`).toBeUndefined();
          expect(peer.ipBlock, `${name}: ${role} ingress from addresses`).toBeUndefined();
          expect(allowedNamespaces, `${name}: ${role}`).toContain(
            peer.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"],
          );
        }
        // Egress: in-cluster only to NATS:4222 and kube-dns; outside only public addresses on 443.
        const egress = applying.flatMap((policy) => policy.spec.egress ?? []) as {
          to: {
            podSelector?: { matchLabels: Record<string, string> };
            namespaceSelector?: unknown;
            ipBlock?: { cidr: string; except?: string[] };
          }[];
          ports: { port: number }[];
        }[];
        for (const rule of egress) {
          for (const peer of rule.to) {
            if (peer.ipBlock) {
              expect(
                rule.ports.map((port) => port.port),
                `${name}: ${role}`,
              ).toEqual([443]);
              for (const cidr of ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]) {
                expect(peer.ipBlock.except, `${name}: ${role} may not reach ${cidr}`).toContain(cidr);
              }
            } else if (peer.namespaceSelector) {
              expect(peer.podSelector?.matchLabels, `${name}: ${role}`).toEqual({ "k8s-app": "kube-dns" });
            } else {
              expect(peer.podSelector?.matchLabels, `${name}: ${role}`).toEqual({
                "app.kubernetes.io/name": "nats",
              });
              expect(rule.ports.map((port) => port.port)).toEqual([4222]);
            }
          }
        }
        expect(
          egress.some((rule) =>
            rule.to.some((peer) => peer.podSelector?.matchLabels["app.kubernetes.io/name"] === "nats"),
          ),
          `${name}: ${role} reaches the bus`,
        ).toBe(true);
        if (role === "sandbox") {
          // No model keys in the sandbox: tool code must not be able to read them.
          expect(JSON.stringify(deployment.spec.template.spec.containers[0].envFrom)).not.toContain(
            "insitu-models",
          );
        }
      }
    }
  });

  it("gives each signer its own key and the verifiers the public keys, required (ADR 0125)", () => {
    const wanted: Record<string, string> = {
      sandbox: "insitu-signing-sandbox",
      executor: "insitu-signing-executor",
      gateway: "insitu-signing-gateway",
      registry: "insitu-signing-trust",
      evolver: "insitu-signing-trust",
    };
    for (const [name, objects] of all()) {
      const secrets = new Set(ofKind(objects, "Secret").map((object) => object.metadata.name));
      for (const deployment of ofKind(objects, "Deployment")) {
        const role = deployment.metadata.name;
        const refs = (
          deployment.spec.template.spec.containers[0].envFrom as {
            secretRef?: { name: string; optional?: boolean };
          }[]
        )
          .flatMap((entry) => (entry.secretRef ? [entry.secretRef] : []))
          .filter((ref) => ref.name.startsWith("insitu-signing-"));
        expect(
          refs.map((ref) => ref.name),
          `${name}: ${role}`,
        ).toEqual(wanted[role] ? [wanted[role]] : []);
        for (const ref of refs) {
          expect(ref.optional, `${name}: ${role} must not start without ${ref.name}`).not.toBe(true);
          expect(secrets.has(ref.name), `${name}: ${ref.name} exists`).toBe(true);
        }
      }
    }
  });

  it("passes the operator's approval policy from the insitu-approval-policy ConfigMap to every role that reads it (ADR 0173)", () => {
    const readers = ["executor", "gateway", "registry", "tool-developer"];
    const file = readFileSync(join(k8s, "base/approval-policy.json"), "utf8");
    // the shipped file is the documented defaults, spelled out for the operator to edit
    expect(loadApprovalPolicy({ INSITU_APPROVAL_POLICY: file })).toEqual(defaultApprovalPolicy());
    for (const [name, objects] of all()) {
      const maps = new Map(ofKind(objects, "ConfigMap").map((object) => [object.metadata.name, object]));
      const withPolicy = ofKind(objects, "Deployment").filter((deployment) =>
        (deployment.spec.template.spec.containers[0].env as { name: string }[]).some(
          (entry) => entry.name === APPROVAL_POLICY_VARIABLE,
        ),
      );
      expect(withPolicy.map((deployment) => deployment.metadata.name).sort(), name).toEqual(readers);
      for (const deployment of withPolicy) {
        const entry = (
          deployment.spec.template.spec.containers[0].env as {
            name: string;
            valueFrom?: { configMapKeyRef?: { name: string; key: string; optional?: boolean } };
          }[]
        ).find((candidate) => candidate.name === APPROVAL_POLICY_VARIABLE)!;
        const ref = entry.valueFrom?.configMapKeyRef;
        expect(ref?.name, `${name}: ${deployment.metadata.name}`).toMatch(
          /^insitu-approval-policy-[a-z0-9]+$/,
        );
        expect(ref?.optional, `${name}: a missing policy must stop the pod, not run the defaults`).not.toBe(
          true,
        );
        const data = (maps.get(ref!.name) as unknown as { data?: Record<string, string> } | undefined)?.data;
        expect(data?.[ref!.key], `${name}: ${ref!.name} holds ${ref!.key}`).toBe(file);
      }
    }
  });

  it("runs NATS as a 3-node JetStream cluster with R3 streams in prod and R1 in dev", () => {
    for (const [name, objects] of all()) {
      const nats = ofKind(objects, "StatefulSet").find((object) => object.metadata.name === "nats")!;
      expect(nats.spec.replicas).toBe(3);
      expect(nats.spec.serviceName).toBe("nats-headless");
      expect(nats.spec.volumeClaimTemplates[0].metadata.name).toBe(
        nats.spec.template.spec.containers[0].volumeMounts.find(
          (m: { mountPath: string }) => m.mountPath === "/data",
        ).name,
      );
      const config = ofKind(objects, "ConfigMap").find((object) => object.metadata.name === "nats-config")!
        .data["nats.conf"] as string;
      expect(config).toContain("server_name: $SERVER_NAME");
      expect(config).toMatch(/lame_duck_duration/);
      for (const index of [0, 1, 2]) expect(config).toContain(`nats://nats-${index}.nats-headless:6222`);
      expect(nats.spec.template.spec.containers[0].lifecycle.preStop.exec.command.join(" ")).toContain("ldm");
      expect(env(objects).NATS_JS_REPLICAS).toBe(name.startsWith("prod") ? "3" : "1");
    }
  });

  it("provisions the dashboard as it is in infra/grafana, and queries only metrics the services export", () => {
    const exported = new Set<string>(Object.values(MetricName));
    const known = (metric: string) =>
      exported.has(metric) ||
      exported.has(metric.replace(/_(bucket|sum|count)$/, "")) ||
      metric.startsWith("insitu_process_");
    const dashboardFile = readFileSync(join(root, "infra/grafana/insitu-tool-growth.json"), "utf8");
    for (const [name, objects] of all()) {
      const map = ofKind(objects, "ConfigMap").find(
        (object) => object.metadata.name === "insitu-grafana-dashboards",
      )!;
      expect(map.metadata.labels?.grafana_dashboard).toBe("1");
      expect(JSON.parse(map.data["insitu-tool-growth.json"])).toEqual(JSON.parse(dashboardFile));
      const queries = [
        ...[...dashboardFile.matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!),
        ...ofKind(objects, "PrometheusRule").flatMap((rule) =>
          rule.spec.groups.flatMap((group: { rules: { expr: string }[] }) => group.rules.map((r) => r.expr)),
        ),
      ];
      expect(queries.length).toBeGreaterThan(10);
      const metrics = queries.flatMap((query) =>
        [...query.matchAll(/\binsitu_[a-z0-9_]+/g)].map((m) => m[0]),
      );
      expect(
        metrics.filter((metric) => !known(metric)),
        name,
      ).toEqual([]);
      if (name === "prod") expect(ofKind(objects, "PodMonitor")).toHaveLength(1);
    }
  });
});
