import { MAX_ATTACHMENTS_PER_TASK } from "@insitu/contracts";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { z } from "zod";

/** Size and count caps of task files. One set, shared by gateway, sandbox and executor. */
export const FileLimits = {
  /** Largest single attachment. */
  attachmentBytes: 10 * 1024 * 1024,
  /** Attachments per task. */
  attachmentsPerTask: MAX_ATTACHMENTS_PER_TASK,
  /** All attachments of a task together. */
  attachmentsTotalBytes: 25 * 1024 * 1024,
  /** Files a workspace holds (more are refused when a call tries to save them). */
  workspaceFiles: 500,
  /** Bytes a workspace holds (what is copied into a call). */
  workspaceBytes: 64 * 1024 * 1024,
  /** New or changed files one call may save; above it none of that call's files are kept. */
  callFilesOut: 100,
  /** Bytes one call may save. */
  callBytesOut: 32 * 1024 * 1024,
  /** Largest file a call may save. */
  fileBytesOut: 16 * 1024 * 1024,
  /** Inline image/PDF bytes sent to the model per task (executor), over attachments and tool images. */
  modelInlineBytes: 8 * 1024 * 1024,
} as const;

/** Error codes of task files. */
export const FileErrorCode = {
  attachmentInvalid: "ATTACHMENT_INVALID",
  attachmentTooLarge: "ATTACHMENT_TOO_LARGE",
  attachmentTypeMismatch: "ATTACHMENT_TYPE_MISMATCH",
  attachmentNameInvalid: "ATTACHMENT_NAME_INVALID",
  attachmentEmpty: "ATTACHMENT_EMPTY",
  tooManyAttachments: "TOO_MANY_ATTACHMENTS",
} as const;

export function attachmentError(
  code: (typeof FileErrorCode)[keyof typeof FileErrorCode],
  message: string,
  details: Record<string, string | number>,
): InsituError {
  return new InsituError(message, { code, category: ErrorCategory.user, details });
}

const RetentionSchema = z.object({
  /** How long a task's workspace (attachments and tool files) is kept after each file was written. */
  WORKSPACE_RETENTION_HOURS: z.coerce
    .number()
    .min(0.01)
    .max(24 * 365)
    .default(7 * 24),
});

/** The configured workspace retention in milliseconds (`WORKSPACE_RETENTION_HOURS`, default 7 days). */
export function workspaceRetentionMs(env: Record<string, string | undefined> = process.env): number {
  const parsed = RetentionSchema.safeParse(env);
  if (!parsed.success) {
    throw new InsituError(
      `WORKSPACE_RETENTION_HOURS must be a number of hours between 0.01 and 8760 (got ${JSON.stringify(env.WORKSPACE_RETENTION_HOURS)})`,
      { code: "INVALID_CONFIG", category: ErrorCategory.user },
    );
  }
  return Math.round(parsed.data.WORKSPACE_RETENTION_HOURS * 3_600_000);
}
