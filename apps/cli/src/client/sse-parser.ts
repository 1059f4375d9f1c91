/** A parsed Server-Sent Event. */
export interface ServerSentEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Incremental EventSource-format parser (WHATWG): feed it text chunks as they arrive; it returns
 * the events completed so far. Comments (`:`) are skipped, multi-line data is joined with `\n`,
 * CRLF / CR / LF all end lines, and an event with no data is not dispatched.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;
  /** The last `id:` seen (for Last-Event-ID on reconnect). */
  lastEventId: string | undefined;

  push(chunk: string): ServerSentEvent[] {
    this.buffer += chunk;
    const events: ServerSentEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone CR at the very end may be the first half of CRLF: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return undefined;
      }
      const event: ServerSentEvent = { event: this.event || "message", data: this.data.join("\n") };
      if (this.id !== undefined) event.id = this.id;
      this.data = [];
      this.event = "";
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.event = value;
        break;
      case "id":
        if (!value.includes("\u0000")) {
          this.id = value;
          this.lastEventId = value;
        }
        break;
      default:
        // `retry` and unknown fields: ignored by this client.
        break;
    }
    return undefined;
  }
}
