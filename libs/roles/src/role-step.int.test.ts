import { randomBytes } from "node:crypto";
import { type Bus, connectBus, startNatsServer } from "@insitu/bus";
import { IntegratorRunWork, ManagerWork, type Payload, TASK_STEPS_BUCKET, stepKey } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { createLogger } from "@insitu/telemetry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineRoleStep } from "./role-step.js";

/**
 * The step kit's consumer wiring on a real nats-server: the role's durable queue, retry by
 * redelivery, the result in KV `task-steps`, then the manager's work queue.
 */
let server: Awaited<ReturnType<typeof startNatsServer>>;
let bus: Bus;
const manager: Payload<typeof ManagerWork>[] = [];
const logger = createLogger({ service: "test", level: "error" });

beforeAll(async () => {
  server = await startNatsServer();
  bus = await connectBus({
    url: server.url,
    prefix: `rs${randomBytes(3).toString("hex")}`,
    name: "role-step-test",
  });
  await bus.consume(ManagerWork, async (work) => void manager.push(work), { ackWaitMs: 5_000 });
});
afterAll(async () => {
  await bus?.drain();
  await server?.dispose();
});

const Result = z.object({ text: z.string() }).strict();

async function until<T>(probe: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a role step on the bus", () => {
  it("retries transient trouble by redelivery, stores the result, then wakes the manager; the last delivery stores the failure", async () => {
    let deliveries = 0;
    const step = defineRoleStep({
      work: IntegratorRunWork,
      result: Result,
      kind: "integration-done",
      run: async (work) => {
        deliveries += 1;
        if (work.taskId === "t-down" || deliveries === 1) {
          throw new InsituError("model unreachable", { code: "UNAVAILABLE", retryable: true });
        }
        return { text: `answer for ${work.taskId}` };
      },
      onFailure: (_work, failure) => ({ text: `failed: ${failure.code}` }),
    });
    const consumer = await step.start(bus, { logger, ackWaitMs: 5_000, maxDeliver: 2, concurrency: 1 });
    const steps = await bus.kv(TASK_STEPS_BUCKET);
    try {
      await bus.enqueue(IntegratorRunWork, { taskId: "t-up", step: "integrate", question: "q", report: "r" });
      const woken = await until(() => manager.find((work) => work.taskId === "t-up"));
      expect(woken).toEqual({ taskId: "t-up", kind: "integration-done", step: "integrate" });
      expect(deliveries).toBe(2);
      expect((await steps.get(stepKey("t-up", "integrate")))?.value).toEqual({ text: "answer for t-up" });

      await bus.enqueue(IntegratorRunWork, {
        taskId: "t-down",
        step: "integrate",
        question: "q",
        report: "r",
      });
      await until(() => manager.find((work) => work.taskId === "t-down"));
      expect(deliveries).toBe(4);
      expect((await steps.get(stepKey("t-down", "integrate")))?.value).toEqual({
        text: "failed: UNAVAILABLE",
      });
    } finally {
      await consumer.stop();
    }
  });
});
