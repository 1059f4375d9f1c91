import { join, resolve } from "node:path";

/**
 * Where `insitu up` keeps its state: JetStream data, the running stack's ports, Prometheus
 * targets. `<repo>/.data` unless INSITU_DATA_DIR says otherwise (tests use a temp dir).
 */
export function dataDir(root: string, env: Record<string, string | undefined> = process.env): string {
  return env.INSITU_DATA_DIR ? resolve(env.INSITU_DATA_DIR) : join(root, ".data");
}
