import { z } from "zod";

/** Integrator settings (on top of the runtime's NATS_URL, NATS_PREFIX, HTTP_PORT …). */
export const IntegratorConfigSchema = z.object({
  /** Integrations at once (mostly waiting on the model: 16, a default batch — ADR 0113). */
  INTEGRATOR_CONCURRENCY: z.coerce.number().int().min(1).default(16),
  WORK_ACK_WAIT_MS: z.coerce.number().int().min(500).default(30_000),
  WORK_MAX_DELIVER: z.coerce.number().int().min(2).default(5),
  /** Path of a scenario file: the role's model is then the FAKE scripted model (tests, `insitu demo`). */
  INSITU_SCRIPT: z.string().optional(),
});
export type IntegratorConfig = z.infer<typeof IntegratorConfigSchema>;
