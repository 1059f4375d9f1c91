/** Where a command writes, and what it reads from its environment (tests pass their own). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** ANSI colours on stdout. */
  color: boolean;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  };
}

/** Exit codes: scripts can tell a failed task from a usage error from an unreachable stack. */
export const ExitCode = {
  ok: 0,
  taskFailed: 1,
  usage: 2,
  notConfigured: 3,
  unreachable: 4,
  interrupted: 130,
} as const;

export function natsInstallHint(platform: NodeJS.Platform = process.platform): string {
  switch (platform) {
    case "linux":
      return "install nats-server: `sudo apt-get install -y nats-server` (Debian/Ubuntu), or `npm run setup` as root; elsewhere download it from https://github.com/nats-io/nats-server/releases — or point NATS_URL at a running server";
    case "darwin":
      return "install nats-server: `brew install nats-server` — or point NATS_URL at a running server";
    case "win32":
      return "install nats-server: `winget install nats-io.nats-server` (or `choco install nats-server`) — or point NATS_URL at a running server";
    default:
      return "install nats-server from https://github.com/nats-io/nats-server/releases — or point NATS_URL at a running server";
  }
}
