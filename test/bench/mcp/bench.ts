/**
 * MCP server figures, through the OFFICIAL SDK client over both transports (gateway `/mcp`
 * Streamable HTTP and `insitu mcp` stdio), against a real stack (NATS, registry, sandbox with
 * Deno, gateway; the FAKE scripted model only builds the one tool, count_vowels):
 *
 *   npx tsx test/bench/mcp/bench.ts [--rounds 10] [--calls 30]
 *
 * Prints:
 * - list_changed push latency: from a committed snapshot (a rollback reply) to the client's
 *   `notifications/tools/list_changed`, per transport (target: p50 under 500 ms);
 * - tools/list latency;
 * - tools/call latency vs the same call straight on the bus (`sandbox.exec`): the MCP overhead
 *   (target: p50 overhead under 50 ms).
 * Exits 1 when a target is missed.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { connectBus } from "@insitu/bus";
import { RegistryGet, RegistryRollback, RegistrySnapshots, SandboxExec } from "@insitu/contracts";
import { startStack } from "../../harness/stack.js";
import { submitTask } from "../../e2e/task-client.js";
import { exitOnMiss, target } from "../targets.js";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "10" }, calls: { type: "string", default: "30" } },
});
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);
const SCRIPT = fileURLToPath(new URL("../../e2e/scenarios/loop.json", import.meta.url));
const INSITU = fileURLToPath(new URL("../../../bin/insitu", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"];
const TARGET_PUSH_P50_MS = 500;
const TARGET_CALL_OVERHEAD_P50_MS = 50;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const ms = (value: number) => `${value.toFixed(1)} ms`;

const stack = await startStack({
  services: ["registry", "sandbox", ...ROLES, "gateway"],
  env: { LOG_LEVEL: "error" },
  serviceEnv: Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
  onLog: () => undefined,
});
const bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "bench-mcp" });
const clients: Record<string, { client: Client; pushes: number[] }> = {};
try {
  const task = await submitTask(bus, "How many vowels are in the word 'encyclopedia'?", {
    label: "bench-mcp",
  });
  if ((await task.done).status !== "succeeded") throw new Error("the setup task failed");
  for (const [name, transport] of [
    ["http", new StreamableHTTPClientTransport(new URL(`${stack.url("gateway")}/mcp`))],
    [
      "stdio",
      new StdioClientTransport({
        command: INSITU,
        args: ["mcp", "--nats", stack.natsUrl, "--prefix", stack.prefix],
        stderr: "ignore",
      }),
    ],
  ] as const) {
    const client = new Client({ name: `bench-${name}`, version: "1" });
    const entry = { client, pushes: [] as number[] };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      entry.pushes.push(performance.now());
    });
    await client.connect(transport);
    await client.listTools();
    clients[name] = entry;
  }

  // list_changed push latency: alternate removing and restoring the tool.
  const latency: Record<string, number[]> = { http: [], stdio: [] };
  let { current } = await bus.request(RegistrySnapshots, { limit: 1 });
  const withTool = current;
  for (let round = 0; round < ROUNDS; round++) {
    const seen = Object.fromEntries(
      Object.entries(clients).map(([name, entry]) => [name, entry.pushes.length]),
    );
    const started = performance.now();
    const info = await bus.request(RegistryRollback, {
      to: round % 2 === 0 ? 0 : withTool,
      expectedSnapshot: current,
      reason: "bench: move the library",
    });
    current = info.number;
    for (const [name, entry] of Object.entries(clients)) {
      const deadline = Date.now() + 10_000;
      while (entry.pushes.length <= (seen[name] ?? 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const at = entry.pushes[seen[name] ?? 0];
      latency[name]?.push(at === undefined ? Number.POSITIVE_INFINITY : at - started);
    }
  }
  if (ROUNDS % 2 === 1) {
    current = (
      await bus.request(RegistryRollback, { to: withTool, expectedSnapshot: current, reason: "bench" })
    ).number;
  }
  console.log(`\nlist_changed push (snapshot commit → client notification), ${ROUNDS} commits`);
  for (const [name, values] of Object.entries(latency)) {
    const p50 = percentile(values, 50);
    console.log(`  ${name.padEnd(6)} p50 ${ms(p50)}  p99 ${ms(percentile(values, 99))}`);
    target(`${name} list_changed push p50`, p50, "<", TARGET_PUSH_P50_MS, " ms");
  }

  // Wait until both catalogs serve the tool again.
  for (const entry of Object.values(clients)) {
    for (let i = 0; i < 500; i++) {
      if ((await entry.client.listTools()).tools.some((tool) => tool.name === "count_vowels")) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  console.log("\ntools/list and tools/call (count_vowels in the Deno sandbox)");
  const record = await bus.request(RegistryGet, { by: "name", name: "count_vowels" });
  // Interleaved, so load from elsewhere on the machine hits all three alike.
  const direct: number[] = [];
  const lists: Record<string, number[]> = { http: [], stdio: [] };
  const calls: Record<string, number[]> = { http: [], stdio: [] };
  for (let index = 0; index < CALLS; index++) {
    let started = performance.now();
    await bus.request(SandboxExec, {
      tool: { code: record.code, manifest: record.manifest },
      input: { text: `bench ${index}` },
      grantedSecrets: [],
    });
    direct.push(performance.now() - started);
    for (const [name, entry] of Object.entries(clients)) {
      started = performance.now();
      await entry.client.listTools();
      lists[name]?.push(performance.now() - started);
      started = performance.now();
      const result = await entry.client.callTool({
        name: "count_vowels",
        arguments: { text: `bench ${index}` },
      });
      calls[name]?.push(performance.now() - started);
      if (result.isError) throw new Error(`${name} call failed: ${JSON.stringify(result.content)}`);
    }
  }
  console.log(`  bus sandbox.exec  p50 ${ms(percentile(direct, 50))}  p99 ${ms(percentile(direct, 99))}`);
  for (const name of Object.keys(clients)) {
    const overhead = percentile(calls[name] ?? [], 50) - percentile(direct, 50);
    console.log(
      `  ${name.padEnd(6)} tools/list p50 ${ms(percentile(lists[name] ?? [], 50))}  tools/call p50 ${ms(percentile(calls[name] ?? [], 50))}  p99 ${ms(percentile(calls[name] ?? [], 99))}  (MCP overhead p50 ${ms(overhead)})`,
    );
    target(`${name} MCP call overhead p50`, overhead, "<", TARGET_CALL_OVERHEAD_P50_MS, " ms");
  }
} finally {
  for (const entry of Object.values(clients)) await entry.client.close().catch(() => {});
  await bus.drain();
  await stack.stop();
}
exitOnMiss();
