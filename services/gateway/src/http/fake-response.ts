import { EventEmitter } from "node:events";

/**
 * FAKE for unit tests: a response with just the surface node:http gives the gateway's handlers —
 * status, headers, the body written so far, and `ended` once the handler ends it. No socket.
 */
export class FakeResponse extends EventEmitter {
  statusCode = 200;
  headers: Record<string, string | number> = {};
  body = "";
  headersSent = false;
  writableEnded = false;
  readonly ended: Promise<void>;
  private markEnded!: () => void;
  constructor() {
    super();
    this.ended = new Promise((resolve) => {
      this.markEnded = resolve;
    });
  }
  setHeader(name: string, value: string | number) {
    this.headers[name.toLowerCase()] = value;
  }
  writeHead(status: number, headers: Record<string, string | number> = {}) {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    this.headersSent = true;
    return this;
  }
  flushHeaders() {}
  write(chunk: string) {
    this.body += chunk;
    return true;
  }
  end(chunk?: string) {
    if (chunk) this.body += chunk;
    this.writableEnded = true;
    this.markEnded();
    this.emit("close");
  }
}
