import { type IncomingHttpHeaders, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local HTTP stand-in for a model provider (FAKE — for integration tests): listens on
 * 127.0.0.1 on a random port, records every request, and answers each one with whatever the
 * test's handler returns, in the provider's real wire format. Real SDKs and HTTP clients talk
 * to it exactly as they would to the provider.
 */
export interface StandInRequest {
  method: string;
  /** Path with query string, e.g. `/v1beta/models/gemini-3-pro-preview:generateContent`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when the body is empty or not JSON). */
  body: unknown;
}

export type StandInReply =
  /** A JSON answer. */
  | { status?: number; headers?: Record<string, string>; json: unknown }
  /** Raw bytes (e.g. malformed JSON). */
  | { status?: number; headers?: Record<string, string>; raw: string }
  /** A server-sent-events stream: each element is sent as one `data:` event. */
  | { status?: number; headers?: Record<string, string>; sse: unknown[]; done?: boolean }
  /** Never answer (the client's deadline must fire). */
  | { hang: true }
  /** Send the status line, headers and the start of a body, then stall. */
  | { stall: string; status?: number; headers?: Record<string, string> }
  /** A slow provider: `reply` after `delayMs` (dropped if the client went away meanwhile). */
  | { delayMs: number; reply: StandInReply };

export interface StandInServer {
  url: string;
  requests: StandInRequest[];
  /**
   * Replies written to the end, by request index (a client that gave up before the end is not
   * served): what the provider would bill.
   */
  served: Set<number>;
  close(): Promise<void>;
}

export async function startStandInServer(
  handler: (request: StandInRequest, index: number) => StandInReply | Promise<StandInReply>,
): Promise<StandInServer> {
  const requests: StandInRequest[] = [];
  const served = new Set<number>();
  const hanging = new Set<import("node:http").ServerResponse>();
  const server: Server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", async () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      const request: StandInRequest = {
        method: incoming.method ?? "GET",
        path: incoming.url ?? "/",
        headers: incoming.headers,
        body,
      };
      requests.push(request);
      const index = requests.length - 1;
      let reply: StandInReply;
      try {
        reply = await handler(request, index);
      } catch (error) {
        reply = { status: 500, json: { error: { message: `stand-in handler failed: ${String(error)}` } } };
      }
      let gone = false;
      response.on("close", () => {
        if (!response.writableFinished) gone = true;
      });
      while ("delayMs" in reply) {
        const delayed: StandInReply = reply;
        hanging.add(response);
        response.on("close", () => hanging.delete(response));
        await new Promise((resolve) => setTimeout(resolve, delayed.delayMs));
        if (gone) return;
        hanging.delete(response);
        reply = delayed.reply;
      }
      response.on("finish", () => served.add(index));
      if ("hang" in reply) {
        hanging.add(response);
        response.on("close", () => hanging.delete(response));
        return;
      }
      const status = reply.status ?? 200;
      if ("stall" in reply) {
        hanging.add(response);
        response.on("close", () => hanging.delete(response));
        response.writeHead(status, { "content-type": "application/json", ...reply.headers });
        response.write(reply.stall);
        return;
      }
      if ("sse" in reply) {
        response.writeHead(status, { "content-type": "text/event-stream", ...reply.headers });
        for (const event of reply.sse) response.write(`data: ${JSON.stringify(event)}\n\n`);
        if (reply.done) response.write("data: [DONE]\n\n");
        response.end();
        return;
      }
      const payload = "raw" in reply ? reply.raw : JSON.stringify(reply.json);
      response.writeHead(status, { "content-type": "application/json", ...reply.headers });
      response.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
