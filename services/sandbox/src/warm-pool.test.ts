import { afterEach, describe, expect, it, vi } from "vitest";
import type { ProcessProfile, ProcessSlot } from "./process-slot.js";
import { WarmPool } from "./warm-pool.js";

// Unit test with FAKE slots (no process is spawned): the pool's bookkeeping only. The real
// processes are exercised by the sandbox's int tests and the sandbox bench.
interface FakeSlot {
  alive: boolean;
  started: boolean;
  spawnedAt: number;
  disposed: boolean;
  dispose(): Promise<void>;
}

function fakeSpawner() {
  const spawned: FakeSlot[] = [];
  const spawn = (_profile: ProcessProfile) => {
    const slot: FakeSlot = {
      alive: true,
      started: false,
      spawnedAt: performance.now(),
      disposed: false,
      dispose() {
        this.disposed = true;
        this.alive = false;
        return Promise.resolve();
      },
    };
    spawned.push(slot);
    return slot as unknown as ProcessSlot;
  };
  return { spawned, spawn };
}

const profile = (memoryMb = 256): ProcessProfile => ({
  net: ["127.0.0.1:1"],
  denyNet: [],
  envNames: [],
  memoryMb,
  timeoutMs: 5000,
  outputBytes: 1024,
});

describe("WarmPool (fake slots)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("grows a profile's depth to the bursts it sees, up to maxPerProfile", async () => {
    vi.useFakeTimers();
    const { spawn } = fakeSpawner();
    const pool = new WarmPool(spawn, {
      perProfile: 1,
      maxPerProfile: 4,
      burstGapMs: 1000,
      refillDelayMs: 30,
    });
    pool.prime(profile());
    await vi.advanceTimersByTimeAsync(1);
    expect(pool.size).toBe(1);
    for (let i = 0; i < 6; i += 1) {
      pool.take(profile());
      pool.replenish(profile());
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(pool.depthOf(profile())).toBe(4);
    // After the burst, the pool is topped up to the new depth.
    await vi.advanceTimersByTimeAsync(100);
    expect(pool.size).toBe(4);
    await pool.close();
  });

  it("refills between bursts, not during one, unless nothing is ready", async () => {
    vi.useFakeTimers();
    const { spawned, spawn } = fakeSpawner();
    const pool = new WarmPool(spawn, {
      perProfile: 3,
      maxPerProfile: 3,
      burstGapMs: 1000,
      refillDelayMs: 30,
    });
    pool.prime(profile());
    await vi.advanceTimersByTimeAsync(1);
    expect(spawned.length).toBe(3);
    // Two calls 10 ms apart: no spawn while the burst goes on.
    expect(pool.take(profile())).toBeDefined();
    pool.replenish(profile());
    await vi.advanceTimersByTimeAsync(10);
    expect(pool.take(profile())).toBeDefined();
    pool.replenish(profile());
    await vi.advanceTimersByTimeAsync(10);
    expect(spawned.length).toBe(3);
    // Quiet for the refill delay: topped up.
    await vi.advanceTimersByTimeAsync(40);
    expect(spawned.length).toBe(5);
    expect(pool.size).toBe(3);
    // Emptied: the replacement is spawned at once.
    pool.take(profile());
    pool.take(profile());
    pool.take(profile());
    pool.replenish(profile());
    await vi.advanceTimersByTimeAsync(1);
    expect(pool.size).toBe(3);
    await pool.close();
  });

  it("hands out a started process before an older one still starting", async () => {
    vi.useFakeTimers();
    const { spawned, spawn } = fakeSpawner();
    const pool = new WarmPool(spawn, { perProfile: 3, maxPerProfile: 3 });
    pool.prime(profile());
    await vi.advanceTimersByTimeAsync(1);
    spawned[1]!.started = true;
    expect(pool.started).toBe(1);
    expect(pool.take(profile())).toBe(spawned[1]);
    // None started: the oldest.
    expect(pool.take(profile())).toBe(spawned[0]);
    await pool.close();
  });

  it("never keeps more than maxTotal processes over all profiles", async () => {
    vi.useFakeTimers();
    const { spawn } = fakeSpawner();
    const pool = new WarmPool(spawn, { perProfile: 4, maxPerProfile: 4, maxTotal: 6 });
    pool.prime(profile(128));
    pool.prime(profile(256));
    await vi.advanceTimersByTimeAsync(1);
    expect(pool.size).toBe(6);
    await pool.close();
  });

  it("falls back to the floor depth once a profile has been idle", async () => {
    vi.useFakeTimers();
    const { spawned, spawn } = fakeSpawner();
    const pool = new WarmPool(spawn, {
      perProfile: 1,
      maxPerProfile: 4,
      maxIdleMs: 2000,
      refillDelayMs: 30,
    });
    pool.prime(profile());
    await vi.advanceTimersByTimeAsync(1);
    for (let i = 0; i < 4; i += 1) {
      pool.take(profile());
      pool.replenish(profile());
      await vi.advanceTimersByTimeAsync(5);
    }
    await vi.advanceTimersByTimeAsync(100);
    expect(pool.size).toBe(4);
    await vi.advanceTimersByTimeAsync(3500);
    expect(pool.depthOf(profile())).toBe(1);
    expect(pool.size).toBe(1);
    expect(spawned.filter((slot) => slot.disposed).length).toBeGreaterThanOrEqual(3);
    await pool.close();
  });
});
