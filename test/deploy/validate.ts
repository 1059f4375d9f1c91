import type { K8sObject } from "./render.js";

/**
 * Validates a rendered object against its schema with the typed models from npm
 * (kubernetes-models 4.5.1, @kubernetes-models/keda 0.4.2, @kubernetes-models/prometheus-operator
 * 4.4.4 — the last lines that run on Node 20). A kind with no model is an error, not a pass.
 */
function modulePath(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "keda.sh") return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  if (group === "monitoring.coreos.com")
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

export async function validateObject(object: K8sObject): Promise<void> {
  const path = modulePath(object.apiVersion, object.kind);
  let model: Record<string, new (data: unknown) => { validate(): void }>;
  try {
    model = (await import(path)) as typeof model;
  } catch {
    throw new Error(`no schema for ${object.apiVersion} ${object.kind} (${path})`);
  }
  const Model = model[object.kind];
  if (!Model) throw new Error(`no model class ${object.kind} in ${path}`);
  new Model(object).validate();
}
