/**
 * `npx tsx services/registry/src/export-cli.ts export|import <dir>` — the library as plain files.
 * Connects to NATS_URL (default nats://127.0.0.1:4222) with NATS_PREFIX (default insitu). The
 * `insitu library export|import` CLI command calls {@link exportLibrary} / {@link importLibrary}.
 */
import { connectBus } from "@insitu/bus";
import { createLogger } from "@insitu/telemetry";
import { exportLibrary, importLibrary } from "./export.js";
import { Registry } from "./registry.js";

const [command, directory] = process.argv.slice(2);
if ((command !== "export" && command !== "import") || !directory) {
  process.stderr.write("usage: export-cli.ts export|import <directory>\n");
  process.exit(2);
}
const logger = createLogger({ service: "registry-export", level: "warn" });
const bus = await connectBus({
  url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  prefix: process.env.NATS_PREFIX ?? "insitu",
  name: "registry-export",
  logger,
});
try {
  const registry = await Registry.open(bus, { logger });
  const result =
    command === "export"
      ? await exportLibrary(registry, directory)
      : await importLibrary(registry, directory);
  registry.stop();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await bus.drain();
}
