import { describe, expect, it } from "vitest";
import { Admission } from "./admission.js";

describe("Admission", () => {
  it("runs at most `concurrency` at once, queues the rest in order, refuses beyond the queue", async () => {
    const admission = new Admission(2, 1);
    const releases: (() => void)[] = [];
    const order: number[] = [];
    const job = (id: number) =>
      admission.run(async () => {
        order.push(id);
        await new Promise<void>((resolve) => releases.push(resolve));
        return id;
      });
    const first = job(1);
    const second = job(2);
    const third = job(3);
    await expect(job(4)).rejects.toMatchObject({ code: "SANDBOX_BUSY", retryable: true });
    expect(order).toEqual([1, 2]);
    expect(admission.queued).toBe(1);
    releases.shift()?.();
    await first;
    await Promise.resolve();
    expect(order).toEqual([1, 2, 3]);
    releases.splice(0).forEach((release) => {
      release();
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    releases.splice(0).forEach((release) => {
      release();
    });
    expect(await Promise.all([second, third])).toEqual([2, 3]);
    expect(admission.active).toBe(0);
  });
});
