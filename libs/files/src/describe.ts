import type { AttachmentRef } from "@insitu/contracts";

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The attachment list as the manager's plan and the executor's first message show it. */
export function attachmentList(attachments: readonly AttachmentRef[] | undefined): string | undefined {
  if (!attachments || attachments.length === 0) return undefined;
  return [
    'Attached files (in the task workspace; tools declaring `files: "task"` read them by name):',
    ...attachments.map(
      (attachment) => `- ${attachment.name} (${attachment.mediaType}, ${formatSize(attachment.size)})`,
    ),
  ].join("\n");
}
