import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseAllDocuments } from "yaml";

/**
 * Renders a kustomization with the real kustomize built into kubectl (docs/adr/0084): the test
 * checks what `kubectl apply -k` would send, not a re-implementation of kustomize's semantics.
 */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, inspected field by field
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML
  data?: any;
  [key: string]: unknown;
}

export function kubectlPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(
      "kubectl is required to render the manifests with kustomize (kubectl kustomize, offline): install it (apt-get install kubectl, or https://kubernetes.io/docs/tasks/tools/)",
    );
  }
}

export function render(dir: string): K8sObject[] {
  const out = execFileSync(kubectlPath(), ["kustomize", dir], { encoding: "utf8", maxBuffer: 64 << 20 });
  return parseAllDocuments(out)
    .map((doc) => {
      if (doc.errors.length > 0) throw doc.errors[0];
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/** Renders `resources` + `components` (directories) through a throw-away kustomization beside them. */
export function renderWith(k8sDir: string, resources: string[], components: string[]): K8sObject[] {
  // kustomize refuses absolute roots, so the temporary kustomization lives inside infra/k8s.
  const dir = mkdtempSync(join(k8sDir, ".render-"));
  try {
    const rel = (path: string) => relative(dir, path);
    writeFileSync(
      join(dir, "kustomization.yaml"),
      [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        ...resources.map((path) => `  - ${rel(path)}`),
        "components:",
        ...components.map((path) => `  - ${rel(path)}`),
        "",
      ].join("\n"),
    );
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
