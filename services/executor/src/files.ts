import type { AttachmentRef } from "@insitu/contracts";
import { FileLimits, formatSize, isImageType } from "@insitu/files";

export { attachmentList } from "@insitu/files";
import type { InlineFile } from "@insitu/llm";
import type { ToolOutcome } from "@insitu/tool-kit";

/**
 * What the model sees of a task's files: the attachment list in the first message, images and
 * PDFs inline (within a byte budget per round's conversation), and images a tool asks to show
 * (`show_files` in its result) after that tool's result.
 */

/** Reads one workspace file by path (the executor's port to the task workspace). */
export interface WorkspaceReader {
  readPath(
    taskId: string,
    path: string,
  ): Promise<{ entry: { mediaType: string; size: number }; bytes: Uint8Array } | undefined>;
}

/** Types sent to the model inline: images, and PDFs (providers that cannot read them say so). */
export function isInlineType(mediaType: string): boolean {
  return isImageType(mediaType) || mediaType === "application/pdf";
}

export class InlineBudget {
  constructor(private remaining: number = FileLimits.modelInlineBytes) {}
  /** True (and spent) when `bytes` still fit. */
  take(bytes: number): boolean {
    if (bytes > this.remaining) return false;
    this.remaining -= bytes;
    return true;
  }
}

async function loadInline(
  reader: WorkspaceReader | undefined,
  taskId: string,
  paths: string[],
  budget: InlineBudget,
): Promise<{ files: InlineFile[]; notes: string[] }> {
  const files: InlineFile[] = [];
  const notes: string[] = [];
  if (!reader) return { files, notes };
  for (const path of paths) {
    const found = await reader.readPath(taskId, path).catch(() => undefined);
    if (!found) {
      notes.push(`${path}: no such file in the task workspace`);
      continue;
    }
    if (!isInlineType(found.entry.mediaType)) {
      notes.push(`${path}: ${found.entry.mediaType} is not an image or PDF; read it with a tool`);
      continue;
    }
    if (!budget.take(found.bytes.byteLength)) {
      notes.push(`${path}: not shown, the task's inline file budget is spent`);
      continue;
    }
    files.push({
      mediaType: found.entry.mediaType,
      data: Buffer.from(found.bytes).toString("base64"),
      name: path,
    });
  }
  return { files, notes };
}

/** Images and PDFs among the attachments, inline, for the first message. */
export function inlineAttachments(
  attachments: readonly AttachmentRef[] | undefined,
  taskId: string,
  reader: WorkspaceReader | undefined,
  budget: InlineBudget,
) {
  const paths = (attachments ?? [])
    .filter((attachment) => isInlineType(attachment.mediaType))
    .map((attachment) => attachment.name);
  return loadInline(reader, taskId, paths, budget);
}

/** Paths a tool result asks to show the model (`show_files: string[]`, at most 8). */
export function showFilesOf(output: unknown): string[] {
  if (output === null || typeof output !== "object" || Array.isArray(output)) return [];
  const value = (output as { show_files?: unknown }).show_files;
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is string => typeof item === "string" && item.length <= 512).slice(0, 8);
}

export function inlineShownFiles(
  output: unknown,
  taskId: string,
  reader: WorkspaceReader | undefined,
  budget: InlineBudget,
) {
  return loadInline(reader, taskId, showFilesOf(output), budget);
}

/** The tool's output as the model sees it, with the files the call kept in the workspace. */
export function withWorkspaceReport(output: unknown, outcome: ToolOutcome): unknown {
  const report = outcome.workspace;
  if (!report || (report.saved.length === 0 && report.refused.length === 0 && !report.error)) return output;
  const files = {
    saved: report.saved.map((file) => `${file.path} (${file.mediaType}, ${formatSize(file.size)})`),
    ...(report.refused.length > 0
      ? { refused: report.refused.map((file) => `${file.path}: ${file.reason}`) }
      : {}),
    ...(report.error ? { error: report.error } : {}),
  };
  if (output !== null && typeof output === "object" && !Array.isArray(output))
    return { ...(output as Record<string, unknown>), workspace_files: files };
  return { output, workspace_files: files };
}
