import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { InsituError } from "@insitu/errors";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { TaskPort } from "./ask-insitu.js";
import type { McpCallPolicy } from "./call-policy.js";
import type { LibraryCatalog } from "./library-catalog.js";
import { createLibraryServer } from "./library-server.js";
import type { SessionLimitOptions } from "./session-limits.js";

export const MCP_PATH = "/mcp";

export interface McpHttpOptions {
  catalog: LibraryCatalog;
  policy: McpCallPolicy;
  limits: SessionLimitOptions;
  /** Sessions open at once; a new one beyond it gets 503. */
  maxSessions: number;
  /** A session with no request for this long is closed. */
  idleMs: number;
  /** True when the request may use the endpoint (the gateway's bearer token check). */
  authorize(request: IncomingMessage): boolean;
  /**
   * Reads a POST body with the gateway's byte limit and bounded JSON parser (throws a typed error
   * for too large or bad JSON). Without it the SDK reads the body itself, unbounded.
   */
  readBody?: (request: IncomingMessage) => Promise<unknown>;
  /** Serves `ask_insitu` (a whole task) when given. */
  tasks?: TaskPort;
  onError?: (error: unknown, context: string) => void;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  close(): void;
  lastSeen: number;
  /** Requests of this session still open (a client listening on its GET stream is not idle). */
  open: number;
}

/**
 * The library's MCP endpoint on the gateway: Streamable HTTP with STATEFUL sessions, so
 * `tools/list_changed` reaches a client on its standalone GET stream outside any request
 * (stateless mode would lose it — docs/adr/0085). One `Server` per session; all share the catalog.
 */
export function createMcpHttpEndpoint(options: McpHttpOptions) {
  const sessions = new Map<string, Session>();
  const onError = options.onError ?? (() => {});
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const [id, session] of sessions) {
        if (session.open === 0 && now - session.lastSeen > options.idleMs) {
          sessions.delete(id);
          session.close();
          session.transport.close().catch(() => {});
        }
      }
    },
    Math.min(options.idleMs, 60_000),
  );
  sweeper.unref();

  const reject = (
    response: ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, { "content-type": "application/json", ...headers });
    response.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
  };

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!options.authorize(request)) {
      reject(response, 401, "missing or wrong bearer token", { "www-authenticate": 'Bearer realm="insitu"' });
      return;
    }
    let body: unknown;
    if (request.method === "POST" && options.readBody) {
      try {
        body = await options.readBody(request);
      } catch (error) {
        const tooLarge = error instanceof InsituError && /TOO_LARGE/.test(error.code);
        if (tooLarge) response.setHeader("connection", "close");
        reject(response, tooLarge ? 413 : 400, `request body refused: ${(error as Error).message}`);
        return;
      }
    }
    const header = request.headers["mcp-session-id"];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (!session) {
        reject(response, 404, "unknown or expired MCP session; initialize a new one");
        return;
      }
      session.lastSeen = Date.now();
      session.open++;
      response.once("close", () => {
        session.open--;
        session.lastSeen = Date.now();
      });
      await session.transport.handleRequest(request, response, body);
      return;
    }
    if (request.method !== "POST") {
      reject(response, 400, "no mcp-session-id: start a session with a POST initialize");
      return;
    }
    if (sessions.size >= options.maxSessions) {
      reject(
        response,
        503,
        `the gateway has ${sessions.size} MCP sessions open (limit ${options.maxSessions}); retry later`,
        {
          "retry-after": "5",
        },
      );
      return;
    }
    const callerId = `mcp-${randomUUID().slice(0, 18)}`;
    const library = createLibraryServer({
      catalog: options.catalog,
      policy: options.policy,
      limits: options.limits,
      callerId,
      onError,
      ...(options.tasks ? { tasks: options.tasks } : {}),
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, close: () => library.close(), lastSeen: Date.now(), open: 0 });
      },
      onsessionclosed: (id) => {
        sessions.get(id)?.close();
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      library.close();
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await library.server.connect(transport);
    await transport.handleRequest(request, response, body);
    // A POST that was not an initialize leaves no session behind.
    if (!transport.sessionId) {
      library.close();
      await transport.close();
    }
  }

  return {
    /** Handles `/mcp`; returns false for any other path. */
    handle(request: IncomingMessage, response: ServerResponse): boolean {
      const path = (request.url ?? "/").split("?")[0];
      if (path !== MCP_PATH) return false;
      serve(request, response).catch((error: unknown) => {
        onError(error, "MCP HTTP request");
        if (!response.headersSent) reject(response, 500, "internal error");
        else response.end();
      });
      return true;
    },
    get sessions() {
      return sessions.size;
    },
    async close() {
      clearInterval(sweeper);
      for (const session of sessions.values()) {
        session.close();
        await session.transport.close().catch(() => {});
      }
      sessions.clear();
    },
  };
}
