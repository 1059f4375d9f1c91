import type { ServerResponse } from "node:http";

/** One Server-Sent Event. `data` is written as JSON (one `data:` line: JSON has no raw newlines). */
export interface SseEvent {
  id?: string | number;
  event?: string;
  data: unknown;
  /** Reconnect delay hint for the client, in milliseconds. */
  retryMs?: number;
}

/**
 * Formats an event per the WHATWG EventSource format. Field values must not contain CR or LF
 * (they would start a new field), so `id` and `event` are stripped of them; multi-line text in
 * `data` is split across `data:` lines, which the client joins back with `\n`.
 */
export function formatSseEvent(event: SseEvent): string {
  let out = "";
  if (event.retryMs !== undefined) out += `retry: ${Math.max(0, Math.floor(event.retryMs))}\n`;
  if (event.id !== undefined) out += `id: ${singleLine(String(event.id))}\n`;
  if (event.event !== undefined) out += `event: ${singleLine(event.event)}\n`;
  const text = typeof event.data === "string" ? event.data : JSON.stringify(event.data);
  for (const line of (text ?? "null").split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** A comment line: ignored by clients, keeps proxies from closing an idle stream. */
export function formatSseComment(text: string): string {
  return `: ${singleLine(text)}\n\n`;
}

function singleLine(value: string): string {
  return value.replace(/[\r\n]+/g, " ");
}

/** `Last-Event-ID` as a sequence number (events are numbered from 1); 0 when absent or bad. */
export function parseLastEventId(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !/^\d{1,15}$/.test(value.trim())) return 0;
  return Number(value.trim());
}

/** Writes an SSE stream to a response, with heartbeats; `close()` ends it once. */
export class SseStream {
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly response: ServerResponse,
    heartbeatMs: number,
  ) {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // nginx buffers responses by default, which would hold the live progress back.
      "x-accel-buffering": "no",
    });
    response.flushHeaders();
    this.heartbeat = setInterval(() => this.write(formatSseComment("keep-alive")), heartbeatMs);
    this.heartbeat.unref();
    response.once("close", () => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(event: SseEvent): void {
    this.write(formatSseEvent(event));
  }

  comment(text: string): void {
    this.write(formatSseComment(text));
  }

  private write(chunk: string): void {
    if (!this.closed) this.response.write(chunk);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.response.writableEnded) this.response.end();
  }
}
