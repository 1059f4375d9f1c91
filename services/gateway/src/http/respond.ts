import type { ServerResponse } from "node:http";
import type { InsituError } from "@insitu/errors";

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  response.end(text);
}

export function publicError(error: InsituError): Record<string, unknown> {
  const json = error.toJSON();
  // Causes can carry internal detail (stack-ish messages, subjects); clients get code and message.
  return {
    code: json.code,
    message: json.message,
    category: json.category,
    retryable: json.retryable,
    details: json.details,
  };
}
