import { createServer } from "node:net";
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
});
