import { readFile, stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import type { AttachmentRef } from "@insitu/contracts";
import { FileErrorCode, FileLimits, attachmentError } from "./limits.js";
import { fileNameProblem } from "./names.js";
import { MediaType, declaredTypeAgrees, sniffMediaType } from "./sniff.js";
import type { WorkspaceIO } from "./store.js";

/** An attachment as a client sent it, before any check. */
export interface AttachmentInput {
  name: string;
  bytes: Uint8Array;
  /** What the client said it is; checked against the content, never trusted. */
  declaredType?: string;
}

/** An attachment that passed every check. */
export interface CheckedAttachment {
  name: string;
  bytes: Uint8Array;
  mediaType: string;
}

const EXTENSIONS: Record<string, string> = {
  [MediaType.png]: "png",
  [MediaType.jpeg]: "jpg",
  [MediaType.gif]: "gif",
  [MediaType.webp]: "webp",
  [MediaType.pdf]: "pdf",
  [MediaType.xlsx]: "xlsx",
  [MediaType.docx]: "docx",
  [MediaType.zip]: "zip",
  [MediaType.json]: "json",
  [MediaType.csv]: "csv",
  [MediaType.text]: "txt",
  [MediaType.binary]: "bin",
};

/**
 * Checks a task's attachments: count, zero bytes, per-file and total size, the name, and the
 * declared media type against the sniffed one. Throws a typed user error naming the attachment
 * (by index and name) and the reason; nothing is stored unless all pass.
 */
export function checkAttachments(
  inputs: AttachmentInput[],
  limits: Pick<
    typeof FileLimits,
    "attachmentBytes" | "attachmentsPerTask" | "attachmentsTotalBytes"
  > = FileLimits,
): CheckedAttachment[] {
  if (inputs.length > limits.attachmentsPerTask) {
    throw attachmentError(
      FileErrorCode.tooManyAttachments,
      `${inputs.length} attachments; at most ${limits.attachmentsPerTask} per task`,
      { count: inputs.length, limit: limits.attachmentsPerTask },
    );
  }
  const names = new Set<string>();
  let total = 0;
  return inputs.map((input, index) => {
    const label = `attachment ${index + 1} (${JSON.stringify(input.name.slice(0, 80))})`;
    const problem = fileNameProblem(input.name);
    if (problem) {
      throw attachmentError(FileErrorCode.attachmentNameInvalid, `${label}: ${problem}`, {
        index,
        name: input.name.slice(0, 200),
      });
    }
    if (names.has(input.name)) {
      throw attachmentError(FileErrorCode.attachmentNameInvalid, `${label}: the name is used twice`, {
        index,
        name: input.name,
      });
    }
    names.add(input.name);
    if (input.bytes.byteLength === 0) {
      throw attachmentError(FileErrorCode.attachmentEmpty, `${label} is empty (0 bytes)`, {
        index,
        name: input.name,
      });
    }
    if (input.bytes.byteLength > limits.attachmentBytes) {
      throw attachmentError(
        FileErrorCode.attachmentTooLarge,
        `${label} is ${input.bytes.byteLength} bytes; at most ${limits.attachmentBytes} per file`,
        { index, name: input.name, size: input.bytes.byteLength, limit: limits.attachmentBytes },
      );
    }
    total += input.bytes.byteLength;
    if (total > limits.attachmentsTotalBytes) {
      throw attachmentError(
        FileErrorCode.attachmentTooLarge,
        `the attachments add up to more than ${limits.attachmentsTotalBytes} bytes`,
        { index, name: input.name, limit: limits.attachmentsTotalBytes },
      );
    }
    const mediaType = sniffMediaType(input.bytes);
    if (input.declaredType !== undefined && !declaredTypeAgrees(input.declaredType, mediaType)) {
      throw attachmentError(
        FileErrorCode.attachmentTypeMismatch,
        `${label} is declared ${input.declaredType} but its content is ${mediaType}`,
        { index, name: input.name, declared: input.declaredType.slice(0, 200), sniffed: mediaType },
      );
    }
    return { name: input.name, bytes: input.bytes, mediaType };
  });
}

/** Stores checked attachments in the task's workspace and returns their references. */
export async function storeAttachments(
  store: WorkspaceIO,
  taskId: string,
  attachments: CheckedAttachment[],
): Promise<AttachmentRef[]> {
  const saved = await store.save(
    taskId,
    attachments.map((attachment) => ({
      path: attachment.name,
      bytes: attachment.bytes,
      mediaType: attachment.mediaType,
      source: "attachment" as const,
    })),
  );
  return saved.map((entry) => ({
    name: entry.path,
    mediaType: entry.mediaType,
    size: entry.size,
    digest: entry.digest,
  }));
}

const DATA_URI = /^data:([^;,]*)((?:;[^;,]+)*?)(;base64)?,(.*)$/s;

/** Decodes a `data:` URI (as HLE ships its images); undefined when `text` is not one. */
export function decodeDataUri(text: string): { mediaType?: string; bytes: Uint8Array } | undefined {
  const match = DATA_URI.exec(text.trim());
  if (!match) return undefined;
  const [, type, , base64, payload = ""] = match;
  const bytes = base64
    ? Buffer.from(payload.replace(/\s+/g, ""), "base64")
    : Buffer.from(decodeURIComponent(payload), "utf8");
  return { ...(type ? { mediaType: type } : {}), bytes: new Uint8Array(bytes) };
}

/**
 * Turns a list of sources — file paths (relative to `baseDir`) or `data:` URIs — into attachment
 * inputs: a path's name is its base name; a data URI is named `attachment-<n>.<ext>` from its
 * sniffed type. A file larger than the per-file cap is refused before it is read.
 */
export async function readAttachmentSources(
  sources: string[],
  options: { baseDir?: string; maxBytes?: number } = {},
): Promise<AttachmentInput[]> {
  const maxBytes = options.maxBytes ?? FileLimits.attachmentBytes;
  const inputs: AttachmentInput[] = [];
  for (const [index, source] of sources.entries()) {
    const decoded = source.startsWith("data:") ? decodeDataUri(source) : undefined;
    if (source.startsWith("data:") && !decoded) {
      throw attachmentError(
        FileErrorCode.attachmentInvalid,
        `attachment ${index + 1} is not a valid data URI`,
        {
          index,
        },
      );
    }
    if (decoded) {
      const extension = EXTENSIONS[sniffMediaType(decoded.bytes)] ?? "bin";
      inputs.push({
        name: `attachment-${index + 1}.${extension}`,
        bytes: decoded.bytes,
        ...(decoded.mediaType ? { declaredType: decoded.mediaType } : {}),
      });
      continue;
    }
    const path = resolve(options.baseDir ?? process.cwd(), source);
    const facts = await stat(path).catch(() => undefined);
    if (!facts?.isFile()) {
      throw attachmentError(FileErrorCode.attachmentInvalid, `attachment ${index + 1}: no file at ${path}`, {
        index,
        path,
      });
    }
    if (facts.size > maxBytes) {
      throw attachmentError(
        FileErrorCode.attachmentTooLarge,
        `attachment ${index + 1} (${path}) is ${facts.size} bytes; at most ${maxBytes} per file`,
        { index, path, size: facts.size, limit: maxBytes },
      );
    }
    inputs.push({ name: basename(path), bytes: new Uint8Array(await readFile(path)) });
  }
  return inputs;
}

/**
 * Paths-or-data-URIs → checked attachments stored in the task's workspace (for batch files and any
 * other caller that holds sources rather than bytes). Pass the references on with the task.
 */
export async function attachSources(
  store: WorkspaceIO,
  taskId: string,
  sources: string[],
  options: { baseDir?: string } = {},
): Promise<AttachmentRef[]> {
  const checked = checkAttachments(await readAttachmentSources(sources, options));
  return storeAttachments(store, taskId, checked);
}
