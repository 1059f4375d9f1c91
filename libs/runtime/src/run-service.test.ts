import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BusOptions } from "@insitu/bus";
import { InsituError } from "@insitu/errors";
import { createMemoryBus } from "@insitu/bus/testing";
import { describe, expect, it } from "vitest";
import { runService } from "./index.js";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("runService readiness (with the in-memory FAKE bus)", () => {
  it("answers 503 on /readyz until start() has finished, then 200, then 503 while draining", async () => {
    const port = await freePort();
    let finishStart: () => void = () => undefined;
    const starting = new Promise<void>((resolve) => {
      finishStart = resolve;
    });
    const running = runService(
      {
        name: "slow-start",
        async start() {
          await starting;
          return {};
        },
      },
      {
        env: { HTTP_PORT: String(port), LOG_LEVEL: "error" },
        handleSignals: false,
        connect: async () => createMemoryBus(),
      },
    );
    let before: Response | undefined;
    for (let attempt = 0; attempt < 200 && !before; attempt++) {
      before = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      if (!before) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(before?.status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    finishStart();
    const service = await running;
    expect((await fetch(`${service.httpUrl}/readyz`)).status).toBe(200);
    await service.shutdown();
  });

  it("refuses bad configuration naming the variable", async () => {
    await expect(
      runService(
        {
          name: "x",
          async start() {
            return {};
          },
        },
        { env: { HTTP_PORT: "not-a-port" }, handleSignals: false, connect: async () => createMemoryBus() },
      ),
    ).rejects.toMatchObject({ code: "INVALID_CONFIG", message: expect.stringContaining("HTTP_PORT") });
  });

  it("connects as NATS_USER with the password from NATS_PASSWORD_FILE, and does not retry a refused login", async () => {
    const dir = mkdtempSync(join(tmpdir(), "insitu-run-service-"));
    try {
      writeFileSync(join(dir, "password"), "s3cret-from-file\n", { mode: 0o600 });
      const seen: BusOptions[] = [];
      const service = await runService(
        { name: "auth", start: async () => ({}) },
        {
          env: { LOG_LEVEL: "error", NATS_USER: "executor", NATS_PASSWORD_FILE: join(dir, "password") },
          handleSignals: false,
          connect: async (options) => {
            seen.push(options);
            return createMemoryBus();
          },
        },
      );
      await service.shutdown();
      expect(seen[0]).toMatchObject({ user: "executor", password: "s3cret-from-file" });

      let attempts = 0;
      await expect(
        runService(
          { name: "refused", start: async () => ({}) },
          {
            env: { LOG_LEVEL: "error", NATS_USER: "executor", NATS_PASSWORD: "wrong" },
            handleSignals: false,
            connect: async () => {
              attempts++;
              throw new InsituError("refused", { code: "BUS_UNAUTHORIZED", category: "user" });
            },
          },
        ),
      ).rejects.toMatchObject({ code: "BUS_UNAUTHORIZED" });
      expect(attempts).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
