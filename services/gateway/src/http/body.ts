import type { IncomingMessage } from "node:http";
import { DEFAULT_LIMITS, parseBounded } from "@insitu/bus";
import { ErrorCategory, InsituError } from "@insitu/errors";
import { GatewayErrorCode, invalidRequest } from "../errors.js";

/**
 * Reads a JSON request body with a hard byte limit: a declared Content-Length above the limit is
 * refused before a byte is read, a chunked body is cut off as soon as it passes the limit (413).
 * The bytes then go through the bus's bounded parser (depth-checked), never a bare JSON.parse.
 */
export async function readJsonBody(request: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = request.headers["content-type"];
  if (type !== undefined && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new InsituError(`expected Content-Type application/json, got ${type}`, {
      code: GatewayErrorCode.unsupportedMediaType,
      category: ErrorCategory.user,
    });
  }
  const bytes = await readLimited(request, limitBytes);
  if (bytes.length === 0)
    throw invalidRequest("request body is empty; expected a JSON object", [
      { path: "body", message: "required" },
    ]);
  try {
    return parseBounded(bytes, { maxBytes: limitBytes, maxDepth: Math.min(DEFAULT_LIMITS.maxDepth, 32) });
  } catch (error) {
    const typed = InsituError.from(error);
    throw new InsituError(`request body is not acceptable JSON: ${typed.message}`, {
      code: typed.code,
      category: ErrorCategory.user,
      details: typed.details,
    });
  }
}

/**
 * A request body's bytes with a hard limit: a declared Content-Length above it is refused before a
 * byte is read, a chunked body is cut off as soon as it passes it (413 PAYLOAD_TOO_LARGE).
 */
export async function readLimited(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes, declared);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge(limitBytes, size);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limitBytes: number, size: number): InsituError {
  return new InsituError(`request body exceeds ${limitBytes} bytes`, {
    code: GatewayErrorCode.payloadTooLarge,
    category: ErrorCategory.user,
    details: { limitBytes, receivedAtLeast: size },
  });
}
