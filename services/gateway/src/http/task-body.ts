import type { IncomingMessage } from "node:http";
import { DEFAULT_LIMITS, parseBounded } from "@insitu/bus";
import { ErrorCategory, InsituError } from "@insitu/errors";
import type { AttachmentInput } from "@insitu/files";
import { GatewayErrorCode, invalidRequest } from "../errors.js";
import { readLimited } from "./body.js";

/**
 * The body of `POST /v1/tasks`: JSON (attachments as base64 `data` with a `mediaType`), or
 * multipart/form-data (fields `question`, optional `options` as JSON and `taskId`, and one file
 * part per attachment). Read with a hard byte limit (413), like every other body.
 */
export interface TaskBody {
  /** The JSON fields (for multipart: the form fields), still to be validated. */
  fields: Record<string, unknown>;
  /** Files of a multipart body (JSON bodies carry theirs in `fields.attachments`). */
  files: AttachmentInput[];
}

export async function readTaskBody(request: IncomingMessage, limitBytes: number): Promise<TaskBody> {
  const type = request.headers["content-type"] ?? "application/json";
  const multipart = /^multipart\/form-data\b/i.test(type);
  if (!multipart && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new InsituError(`expected Content-Type application/json or multipart/form-data, got ${type}`, {
      code: GatewayErrorCode.unsupportedMediaType,
      category: ErrorCategory.user,
    });
  }
  const bytes = await readLimited(request, limitBytes);
  if (bytes.length === 0)
    throw invalidRequest("request body is empty; expected a JSON object", [
      { path: "body", message: "required" },
    ]);
  if (!multipart) {
    try {
      const value = parseBounded(bytes, {
        maxBytes: limitBytes,
        maxDepth: Math.min(DEFAULT_LIMITS.maxDepth, 32),
      });
      return { fields: (value ?? {}) as Record<string, unknown>, files: [] };
    } catch (error) {
      const typed = InsituError.from(error);
      throw new InsituError(`request body is not acceptable JSON: ${typed.message}`, {
        code: typed.code,
        category: ErrorCategory.user,
        details: typed.details,
      });
    }
  }
  let form: FormData;
  try {
    // Node's fetch implementation parses multipart bodies; the bytes were already size-checked.
    form = await new Response(bytes, { headers: { "content-type": type } }).formData();
  } catch (error) {
    throw invalidRequest(`the multipart body cannot be read: ${(error as Error).message}`, [
      { path: "body", message: "malformed multipart/form-data" },
    ]);
  }
  const fields: Record<string, unknown> = {};
  const files: AttachmentInput[] = [];
  for (const [name, value] of form) {
    if (typeof value === "string") {
      if (name === "options") {
        try {
          fields.options = parseBounded(Buffer.from(value), { maxBytes: 64 * 1024, maxDepth: 16 });
        } catch {
          throw invalidRequest("the options field is not JSON", [
            { path: "body.options", message: "expected a JSON object" },
          ]);
        }
      } else fields[name] = value;
      continue;
    }
    files.push({
      name: value.name,
      bytes: new Uint8Array(await value.arrayBuffer()),
      ...(value.type ? { declaredType: value.type } : {}),
    });
  }
  return { fields, files };
}
