import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { freePort, isPortInUse } from "./ports.js";

describe("freePort", () => {
  it("picks a bindable port below the kernel's ephemeral range, so outbound sockets never take it", async () => {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(low);
      expect(await isPortInUse(port)).toBe(false);
    }
  });
});
