import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A TCP port free on 127.0.0.1 right now, chosen BELOW the kernel's ephemeral range. A service's
 * port must stay usable across a restart of that service (the stack restarts on the same port);
 * a port from the ephemeral range can meanwhile become the local end of some outbound connection
 * (NATS clients, fetch) and the restarted service then fails with EADDRINUSE. Outbound
 * connections never take ports below the range, so only another listener can, and we check.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const floor = 10_000;
  if (low - floor > 1000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const candidate = floor + Math.floor(Math.random() * (low - floor));
      // A port handed out moments ago may not be bound yet: never hand it out twice.
      if (handedOut.has(candidate) || (await isPortInUse(candidate))) continue;
      handedOut.add(candidate);
      return candidate;
    }
  }
  return kernelPickedPort();
}

const handedOut = new Set<number>();

/** `net.ipv4.ip_local_port_range` (Linux); the usual default elsewhere. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high && low < high) return [low, high];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

/** A port the kernel picks from the ephemeral range (the fallback; a tiny race is accepted). */
function kernelPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** True when something accepts connections on 127.0.0.1:port. */
export function isPortInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });
}
