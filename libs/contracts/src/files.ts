import { z } from "zod";

/**
 * Files of a task: the question's attachments (stored in the task's workspace by the gateway before
 * the task is submitted) and the files its tools write there. Only references travel on the bus;
 * the bytes live in the JetStream Object Store (see @insitu/files).
 */

/** An attachment as the task record and the roles see it. */
export const AttachmentRefSchema = z
  .object({
    /** File name in the task's workspace (sanitized: no folders, no control characters). */
    name: z.string().min(1).max(128),
    /** Sniffed from the content, never taken from the name or the client. */
    mediaType: z.string().min(1).max(200),
    size: z.number().int().min(1),
    /** `sha256:<hex>` of the content. */
    digest: z.string().max(100),
  })
  .strict();
export type AttachmentRef = z.infer<typeof AttachmentRefSchema>;

/** The most attachments one task may carry. */
export const MAX_ATTACHMENTS_PER_TASK = 16;

/** Which task workspace a sandbox call works in (tools declaring `files: "task"` only). */
export const SandboxWorkspaceSchema = z
  .object({
    taskId: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9_-]+$/),
    /** The tool (name) writing, recorded with the files it saves. */
    tool: z.string().max(64).optional(),
  })
  .strict();
