/**
 * Bus access from a tool (issue 11 points 3 and 8, docs/adr/0120). Two layers:
 * - a tool process never holds bus credentials: the sandbox service's own NATS_USER/NATS_PASSWORD
 *   are in its environment, and a tool can neither read them nor be granted them;
 * - a tool that reaches NATS anyway (the case: a DNS answer in a spelling Deno's deny
 *   ranges miss led a tool to loopback) is refused by the bus itself: the exact bytes that tool
 *   sent (CONNECT, SUB >) from a real Deno process, against a real nats-server with the stack's
 *   users, get `Authorization Violation` and not one message.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BusCredentials,
  busUsers,
  connectBus,
  generateBusCredentials,
  type NatsServerHandle,
  startNatsServer,
} from "@insitu/bus";
import { TaskEvents } from "@insitu/contracts";
import { Sandbox, defaultPolicy, resolveDenoBinary } from "@insitu/sandbox";
import type { ToolManifest } from "@insitu/tool-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const prefix = "sec-bus";
let credentials: BusCredentials;
let server: NatsServerHandle;
let dir: string;
const saved = { user: process.env.NATS_USER, password: process.env.NATS_PASSWORD };

beforeAll(async () => {
  credentials = generateBusCredentials();
  server = await startNatsServer({ auth: { users: busUsers(credentials, prefix) } });
  dir = mkdtempSync(join(tmpdir(), "insitu-bus-access-"));
});

afterAll(async () => {
  process.env.NATS_USER = saved.user;
  process.env.NATS_PASSWORD = saved.password;
  if (saved.user === undefined) delete process.env.NATS_USER;
  if (saved.password === undefined) delete process.env.NATS_PASSWORD;
  await server?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What a hostile tool that reached the NATS port does: CONNECT (optionally guessing a user), SUB >, PING; returns what it read. */
const HOSTILE = (port: number, connect: Record<string, unknown>) => `
const connection = await Deno.connect({ hostname: "127.0.0.1", port: ${port} });
const encoder = new TextEncoder();
let seen = "";
const reader = (async () => {
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await connection.read(buffer).catch(() => null);
    if (n === null) break;
    seen += new TextDecoder().decode(buffer.subarray(0, n));
  }
})();
await connection.write(encoder.encode("CONNECT " + JSON.stringify(${JSON.stringify(connect)}) + "\\r\\nSUB > 1\\r\\nPING\\r\\n"));
await new Promise((resolve) => setTimeout(resolve, 1500));
try { connection.close(); } catch {}
await reader;
console.log(JSON.stringify(seen));
`;

function runDeno(script: string, port: number): Promise<string> {
  const file = join(dir, `hostile-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    execFile(
      resolveDenoBinary(),
      ["run", "--no-prompt", `--allow-net=127.0.0.1:${port}`, file],
      { timeout: 30_000, env: { PATH: process.env.PATH ?? "", NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`deno failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim()) as string);
      },
    );
  });
}

describe("bus access from a tool", () => {
  it("a tool that reaches NATS and sends CONNECT + SUB > is refused and sees no traffic", async () => {
    // Traffic the tool would love to see: task events published while it listens.
    const manager = await connectBus({
      url: server.plainUrl,
      prefix,
      name: "sec-manager",
      user: "manager",
      password: credentials.manager!,
    });
    const publishing = setInterval(() => {
      void manager
        .publish(
          TaskEvents,
          {
            kind: "task-start",
            taskId: "t-sec",
            time: new Date().toISOString(),
            question: "secret question",
          },
          {
            token: "t-sec",
            taskId: "t-sec",
          },
        )
        .catch(() => undefined);
    }, 100);
    try {
      const anonymous = await runDeno(HOSTILE(server.port, { verbose: false }), server.port);
      expect(anonymous).toMatch(/-ERR 'Authorization Violation'/);
      expect(anonymous).not.toMatch(/^MSG /m);
      expect(anonymous).not.toMatch(/PONG/);

      // Guessing a role's user name does not help without its password.
      const guessed = await runDeno(
        HOSTILE(server.port, { verbose: false, user: "registry", pass: "registry" }),
        server.port,
      );
      expect(guessed).toMatch(/-ERR 'Authorization Violation'/);
      expect(guessed).not.toMatch(/^MSG /m);
    } finally {
      clearInterval(publishing);
      await manager.drain();
    }
  });

  it("a tool process holds no bus credentials, even though the sandbox service does", async () => {
    // The sandbox service runs with its role's credentials in its environment.
    process.env.NATS_USER = "sandbox";
    process.env.NATS_PASSWORD = credentials.sandbox!;
    const sandbox = new Sandbox({
      // Even an operator policy that names the bus password as a secret does not hand it out
      // through the environment: the tool sees at most a placeholder.
      policy: defaultPolicy({}),
      concurrency: 1,
      maxQueue: 10,
      warm: { perProfile: 0 },
    });
    try {
      const manifest = (secrets: string[]): ToolManifest => ({
        name: "probe_bus_credentials",
        description: "Reads the bus credentials from its environment.",
        inputSchema: { type: "object" },
        outputSchema: {},
        permissions: { network: [], secrets },
      });
      const code = `export default async function run() {
  return { user: Deno.env.get("NATS_USER") ?? null, password: Deno.env.get("NATS_PASSWORD") ?? null };
}`;
      const undeclared = await sandbox.exec({
        tool: { code, manifest: manifest([]) },
        input: {},
        limits: { timeoutMs: 5000, memoryMb: 128, outputBytes: 64 * 1024 },
      });
      expect(undeclared.status).toBe("PERMISSION_DENIED");
      const declared = await sandbox.exec({
        tool: { code, manifest: manifest(["NATS_USER", "NATS_PASSWORD"]) },
        input: {},
        grantedSecrets: ["NATS_USER", "NATS_PASSWORD"],
        limits: { timeoutMs: 5000, memoryMb: 128, outputBytes: 64 * 1024 },
      });
      expect(declared.status).toBe("PERMISSION_DENIED");
      for (const outcome of [undeclared, declared]) {
        expect(JSON.stringify(outcome)).not.toContain(credentials.sandbox!);
      }
    } finally {
      await sandbox.close();
    }
  });
});
