import { MetricName } from "./metrics.js";
import { Gauge, type Registry } from "prom-client";

/** What a role runs on: `provider`/`model`, or `configured: false` when no model is set up. */
export interface RoleModelInfo {
  role: string;
  configured: boolean;
  provider: string;
  model: string;
}

/**
 * Records a role's model as `insitu_model_configured{role,provider,model}` (1 configured, 0 not)
 * on the service's registry. The service's $SRV status endpoint reads it back (see
 * `readRoleModels`), so `insitu status` and `insitu ask` learn what the running stack has.
 */
export function recordRoleModel(registry: Registry, info: RoleModelInfo): void {
  const existing = registry.getSingleMetric(MetricName.modelConfigured) as Gauge<string> | undefined;
  const gauge =
    existing ??
    new Gauge({
      name: MetricName.modelConfigured,
      help: "1 per role with a model configured, 0 when the role has none (its calls fail saying what to set).",
      labelNames: ["role", "provider", "model"],
      registers: [registry],
    });
  gauge.set({ role: info.role, provider: info.provider, model: info.model }, info.configured ? 1 : 0);
}

/** The roles' models recorded on `registry` by {@link recordRoleModel}. */
export async function readRoleModels(registry: Registry): Promise<RoleModelInfo[]> {
  const metric = registry.getSingleMetric(MetricName.modelConfigured);
  if (!metric) return [];
  const { values } = await metric.get();
  return values.map((value) => ({
    role: String(value.labels.role ?? ""),
    provider: String(value.labels.provider ?? ""),
    model: String(value.labels.model ?? ""),
    configured: value.value === 1,
  }));
}
