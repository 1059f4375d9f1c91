/**
 * Scaling one role: task throughput at 1, 2 and 3 executor replicas with a simulated model
 * latency, and the queue-lag figure KEDA's nats-jetstream scaler would read at each step
 * (num_pending + num_ack_pending of the executor's durable consumer, from the NATS monitor's
 * /jsz, as in infra/k8s/base/scaling.yaml). The model is the FAKE scripted one
 * (test/e2e/scenarios/loop.json) with INSITU_SCRIPT_LATENCY_MS on the executor; each executor
 * replica works one item at a time (EXECUTOR_CONCURRENCY=1), like a replica bound to one model
 * slot. Everything else is real: nats-server, every service its own process, Deno tool calls.
 * The replicas are processes of one `startStack({ replicas: { executor: 3 } })` — what
 * `insitu up --replicas executor=3` runs — stopped and started between the steps.
 *
 *   npx tsx test/bench/scale/bench.ts [--tasks 12] [--latency 300]
 *
 * Exits non-zero unless 3 replicas give at least 1.8x the throughput of 1, and the lag KEDA reads
 * with 1 replica under load is above its lagThreshold (so KEDA would scale out).
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { connectBus } from "@insitu/bus";
import { submitTask } from "../../e2e/task-client.js";
import { startStack } from "../../harness/stack.js";

const { values } = parseArgs({
  options: { tasks: { type: "string", default: "12" }, latency: { type: "string", default: "300" } },
});
const TASKS = Number(values.tasks);
const LATENCY_MS = Number(values.latency);
const LAG_THRESHOLD = 4; // infra/k8s/base/scaling.yaml, executor
const SCRIPT = fileURLToPath(new URL("../../e2e/scenarios/loop.json", import.meta.url));
const ROLES = ["manager", "tool-developer", "executor", "integrator"];

const stack = await startStack({
  services: ["registry", "sandbox", ...ROLES],
  replicas: { executor: 3 },
  env: { LOG_LEVEL: "error" },
  serviceEnv: {
    ...Object.fromEntries(ROLES.map((role) => [role, { INSITU_SCRIPT: SCRIPT }])),
    executor: {
      INSITU_SCRIPT: SCRIPT,
      INSITU_SCRIPT_LATENCY_MS: String(LATENCY_MS),
      EXECUTOR_CONCURRENCY: "1",
    },
  },
  onLog: () => undefined,
});
const bus = await connectBus({ url: stack.natsUrl, prefix: stack.prefix, name: "bench-scale" });
const stream = `${stack.prefix}_executor-run`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");

interface ConsumerInfo {
  name: string;
  num_pending: number;
  num_ack_pending: number;
}
interface Jsz {
  account_details?: { name: string; stream_detail?: { name: string; consumer_detail?: ConsumerInfo[] }[] }[];
}

/** What KEDA reads: GET /jsz?acc=$G&consumers=true&config=true, that consumer's pending + ack-pending. */
async function kedaLag(): Promise<number> {
  const response = await fetch(`${stack.natsMonitorUrl}/jsz?acc=%24G&consumers=true&config=true`);
  const jsz = (await response.json()) as Jsz;
  const account = jsz.account_details?.find((candidate) => candidate.name === "$G");
  const consumer = account?.stream_detail
    ?.find((candidate) => candidate.name === stream)
    ?.consumer_detail?.find((candidate) => candidate.name === stream);
  if (!consumer) throw new Error(`no durable ${stream} in /jsz`);
  return consumer.num_pending + consumer.num_ack_pending;
}

async function step(replicas: number): Promise<{ tps: number; maxLag: number; lags: number[] }> {
  const lags: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      lags.push(await kedaLag());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const started = performance.now();
  const tasks = await Promise.all(
    Array.from({ length: TASKS }, (_, index) =>
      submitTask(bus, "Count the vowels in 'onomatopoeia'.", { label: `scale-${replicas}-${index}` }),
    ),
  );
  const records = await Promise.all(tasks.map((task) => task.done));
  const wallMs = performance.now() - started;
  sampling = false;
  await sampler;
  const failed = records.filter((record) => record.status !== "succeeded");
  if (failed.length > 0) throw new Error(`${failed.length} tasks did not succeed`);
  return { tps: (TASKS / wallMs) * 1000, maxLag: Math.max(...lags), lags };
}

let exitCode = 0;
try {
  // Warm up: the first task writes and registers the tool; later ones reuse it.
  const first = await submitTask(bus, "How many vowels are in the word 'encyclopedia'?", {
    label: "scale-first",
  });
  if ((await first.done).status !== "succeeded") throw new Error("first task failed");
  await stack.kill("executor-2", "SIGTERM");
  await stack.kill("executor-3", "SIGTERM");
  const results: { replicas: number; tps: number; maxLag: number }[] = [];
  for (const replicas of [1, 2, 3]) {
    if (replicas === 2) await stack.restart("executor-2");
    if (replicas === 3) await stack.restart("executor-3");
    const result = await step(replicas);
    results.push({ replicas, ...result });
    const mid = result.lags[Math.floor(result.lags.length / 4)] ?? 0;
    console.log(
      `executor replicas ${replicas}: ${result.tps.toFixed(2)} tasks/s (${TASKS} tasks, model latency ${LATENCY_MS} ms/call); ` +
        `KEDA lag (pending + ack-pending) max ${result.maxLag}, at 1/4 of the run ${mid} -> KEDA would want ${Math.ceil(result.maxLag / LAG_THRESHOLD)} replicas at lagThreshold ${LAG_THRESHOLD}`,
    );
  }
  const speedup = results[2]!.tps / results[0]!.tps;
  console.log(`speed-up 3 vs 1 replica: ${speedup.toFixed(2)}x (target >= 1.8x)`);
  if (speedup < 1.8) exitCode = 1;
  if (results[0]!.maxLag <= LAG_THRESHOLD) {
    console.log(
      `lag under load with 1 replica ${results[0]!.maxLag} <= lagThreshold ${LAG_THRESHOLD}: KEDA would not scale`,
    );
    exitCode = 1;
  }
} finally {
  await bus.drain();
  await stack.stop();
}
process.exit(exitCode);
