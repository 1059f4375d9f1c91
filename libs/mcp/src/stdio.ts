import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { TaskPort } from "./ask-insitu.js";
import type { McpCallPolicy } from "./call-policy.js";
import type { LibraryCatalog } from "./library-catalog.js";
import { createLibraryServer } from "./library-server.js";
import type { SessionLimitOptions } from "./session-limits.js";

/**
 * Serves the library over stdio (`insitu mcp`): stdout carries only MCP messages, so anything
 * else must go to stderr. Resolves when the client closes the stream.
 */
export async function serveLibraryOverStdio(options: {
  catalog: LibraryCatalog;
  policy: McpCallPolicy;
  limits: SessionLimitOptions;
  callerId: string;
  tasks?: TaskPort;
  onError?: (error: unknown, context: string) => void;
}): Promise<void> {
  const library = createLibraryServer(options);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once("end", () => resolve());
  });
  await library.server.connect(transport);
  await closed;
  library.close();
}
