import { z } from "zod";

/**
 * Every message body on the bus is an envelope around the contract's payload. The bus writes and
 * checks it; handlers only see `data`.
 */
export const EnvelopeSchema = z
  .object({
    /** Unique per message; JetStream uses it for de-duplication, handlers for idempotency. */
    id: z.string().min(1).max(128),
    /** Message type from the contract, e.g. `sandbox.exec.request`. */
    type: z.string().min(1).max(200),
    /** Major version of the payload schema. */
    version: z.number().int().positive(),
    /** Task this message belongs to, when it belongs to one. */
    taskId: z.string().max(128).optional(),
    /** W3C traceparent of the sender's span. */
    traceparent: z.string().max(128).optional(),
    /** ISO-8601 time the message was created. */
    time: z.string().max(40),
    data: z.unknown(),
  })
  .strict();
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** Common, reusable payload fragments. */
export const TaskId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/);
export const ToolName = z
  .string()
  .min(3)
  .max(64)
  .regex(/^[a-z][a-z0-9]*(_[a-z0-9]+)+$/, "tool names are snake_case verb_target");
export const ContentHash = z.string().regex(/^sha256:[0-9a-f]{64}$/);
