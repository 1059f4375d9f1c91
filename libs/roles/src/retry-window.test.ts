import { describe, expect, it } from "vitest";
import { isPeerOutage, withinRetryWindow } from "./retry-window.js";

/** A FAKE clock: sleeping advances it, so the window is tested without waiting. */
function fakeClock() {
  let time = 0;
  const slept: number[] = [];
  return {
    now: () => time,
    sleep: async (ms: number) => {
      slept.push(ms);
      time += ms;
    },
    advance: (ms: number) => {
      time += ms;
    },
    slept,
  };
}

/** Shaped like the bus's InsituError (roles does not depend on @insitu/errors). */
const failure = (message: string, code: string, retryable: boolean) =>
  Object.assign(new Error(message), { code, retryable, details: {} });
const outage = () => failure("no service is serving sandbox.exec", "UNAVAILABLE", true);

describe("withinRetryWindow", () => {
  it("retries a peer outage with backoff until the restarted peer answers", async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await withinRetryWindow(
      async () => {
        calls++;
        if (calls < 4) throw outage();
        return "answered";
      },
      { windowMs: 45_000, backoffMs: [250, 500, 1_000], now: clock.now, sleep: clock.sleep },
    );
    expect(result).toBe("answered");
    expect(calls).toBe(4);
    expect(clock.slept).toEqual([250, 500, 1_000]);
  });

  it("gives up with the peer's failure once the next attempt would start past the window", async () => {
    const clock = fakeClock();
    let calls = 0;
    const failure = await withinRetryWindow(
      async () => {
        calls++;
        clock.advance(5_000); // each attempt waits out a liveness window
        throw outage();
      },
      { windowMs: 20_000, backoffMs: [1_000], now: clock.now, sleep: clock.sleep },
    ).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    // Attempts at 0, 6 s and 12 s; a fourth would start at 18 s + 1 s… then end past 20 s: 3 or 4, never more.
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(clock.now()).toBeLessThanOrEqual(20_000 + 5_000);
  });

  it("does not retry what another attempt cannot cure (a timeout, a user error, a plain Error)", async () => {
    for (const error of [
      failure("slow", "TIMEOUT", true),
      failure("bad", "INVALID_MESSAGE", false),
      failure("not retryable", "UNAVAILABLE", false),
      new Error("bug"),
    ]) {
      let calls = 0;
      await expect(
        withinRetryWindow(
          async () => {
            calls++;
            throw error;
          },
          { windowMs: 45_000, ...fakeClock() },
        ),
      ).rejects.toBe(error);
      expect(calls).toBe(1);
    }
    expect(isPeerOutage(outage())).toBe(true);
  });

  it("a window of 0 makes a single attempt", async () => {
    let calls = 0;
    await expect(
      withinRetryWindow(
        async () => {
          calls++;
          throw outage();
        },
        { windowMs: 0, ...fakeClock() },
      ),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(calls).toBe(1);
  });
});
