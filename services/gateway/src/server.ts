import { type Server, createServer } from "node:http";
import type { Socket } from "node:net";

/**
 * node:http server with the limits a public listener needs: bounded header/request time, and a
 * `close()` that stops accepting, lets in-flight requests finish for `drainMs`, then cuts the rest
 * (SSE streams never finish on their own).
 */
export interface GatewayServer {
  server: Server;
  port: number;
  close(drainMs: number): Promise<void>;
}

export async function listen(
  handler: Parameters<typeof createServer>[1],
  host: string,
  port: number,
): Promise<GatewayServer> {
  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    handler,
  );
  // SSE responses may stay open for the life of a task.
  server.requestTimeout = 0;
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return {
    server,
    port: actualPort,
    async close(drainMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, drainMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
