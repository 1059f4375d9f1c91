import { type CliIo, ExitCode } from "../io.js";
import { discoverServices } from "../stack/discover.js";
import { findRepoRoot } from "../stack/repo-root.js";
import { readStackState } from "../stack/state.js";
import { resolveTargets } from "../targets.js";
import { collectStatus, renderStatus } from "./status.js";

/** `insitu status`: exit 0 when NATS and JetStream are healthy, 4 otherwise. */
export async function runStatus(values: Record<string, unknown>, io: CliIo): Promise<number> {
  const waitMs = values.wait === undefined ? 750 : Number(values.wait);
  if (!Number.isFinite(waitMs) || waitMs <= 0) {
    io.err(`--wait expects milliseconds, got ${String(values.wait)}\n`);
    return ExitCode.usage;
  }
  const root = findRepoRoot();
  const state = await readStackState(root);
  const targets = resolveTargets(values, io.env, state);
  const report = await collectStatus({
    natsUrl: targets.natsUrl,
    monitorUrl: targets.monitorUrl,
    prefix: targets.prefix,
    all: values.all === true,
    waitMs,
    expected: discoverServices(root).map((entry) => entry.name),
    ...(state?.services.gateway || values.gateway || io.env.INSITU_GATEWAY_URL
      ? { gatewayUrl: targets.gatewayUrl }
      : {}),
    ...(state && targets.source === "stack"
      ? { processes: Object.entries(state.services).map(([name, entry]) => ({ name, port: entry.port })) }
      : {}),
  });
  if (values.json === true) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else {
    io.out(renderStatus(report, { color: io.color }));
    if (!report.nats.reachable && !state) {
      io.out("\nNo local stack is running. Start one with `insitu up` (or `npm run start`).\n");
    }
  }
  return report.nats.healthy && report.jetstream.enabled ? ExitCode.ok : ExitCode.unreachable;
}
