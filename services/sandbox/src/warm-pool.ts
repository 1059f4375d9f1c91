import type { ProcessProfile, ProcessSlot } from "./process-slot.js";
import { profileKey } from "./process-slot.js";

export interface WarmPoolOptions {
  /** Processes kept waiting per hot profile. */
  perProfile: number;
  /** Profiles kept warm (least recently used dropped first). */
  maxProfiles: number;
  /** A waiting process older than this is replaced (it holds memory and a work dir). */
  maxIdleMs: number;
}

/**
 * Pre-spawned, single-use Deno processes per permission profile. A process is taken out of the
 * pool for exactly one job and disposed after it; the pool spawns a replacement in the background.
 */
export class WarmPool {
  private readonly slots = new Map<
    string,
    { profile: ProcessProfile; ready: ProcessSlot[]; lastUsed: number }
  >();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly spawn: (profile: ProcessProfile) => ProcessSlot,
    private readonly options: WarmPoolOptions,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, options.maxIdleMs / 2));
    this.sweeper.unref();
  }

  /** A ready process for this profile, or undefined (then the caller spawns cold). Marks the profile hot. */
  take(profile: ProcessProfile): ProcessSlot | undefined {
    if (this.closed || this.options.perProfile <= 0) return undefined;
    const key = profileKey(profile);
    let entry = this.slots.get(key);
    if (!entry) {
      entry = { profile, ready: [], lastUsed: Date.now() };
      this.slots.set(key, entry);
      this.evictProfiles();
    }
    entry.lastUsed = Date.now();
    // Re-insert to keep Map order = recency.
    this.slots.delete(key);
    this.slots.set(key, entry);
    let slot: ProcessSlot | undefined;
    while (entry.ready.length > 0 && !slot) {
      const candidate = entry.ready.shift();
      if (candidate?.alive) slot = candidate;
      else void candidate?.dispose();
    }
    if (slot) this.hits += 1;
    else this.misses += 1;
    return slot;
  }

  /** Marks a profile hot before any call used it (the start-up profile of tools without permissions). */
  prime(profile: ProcessProfile): void {
    if (this.closed || this.options.perProfile <= 0) return;
    const key = profileKey(profile);
    if (!this.slots.has(key)) {
      this.slots.set(key, { profile, ready: [], lastUsed: Date.now() });
      this.evictProfiles();
    }
    setImmediate(() => this.refill(key));
  }

  /**
   * Tops the profile's processes up. Called after a call has finished, not when it starts: a spawn
   * competes for the CPU and the event loop with the call it would replace.
   */
  replenish(profile: ProcessProfile): void {
    const key = profileKey(profile);
    if (this.slots.has(key)) setImmediate(() => this.refill(key));
  }

  get size(): number {
    let total = 0;
    for (const entry of this.slots.values()) total += entry.ready.length;
    return total;
  }

  private refill(key: string): void {
    const entry = this.slots.get(key);
    if (!entry || this.closed) return;
    while (entry.ready.length < this.options.perProfile) {
      try {
        entry.ready.push(this.spawn(entry.profile));
      } catch (error) {
        this.onError(error);
        return;
      }
    }
  }

  private evictProfiles(): void {
    while (this.slots.size > this.options.maxProfiles) {
      const oldest = this.slots.keys().next().value;
      if (oldest === undefined) return;
      for (const slot of this.slots.get(oldest)?.ready ?? []) void slot.dispose();
      this.slots.delete(oldest);
    }
  }

  private sweep(): void {
    const now = performance.now();
    for (const [key, entry] of this.slots) {
      const keep: ProcessSlot[] = [];
      for (const slot of entry.ready) {
        if (slot.alive && now - slot.spawnedAt < this.options.maxIdleMs) keep.push(slot);
        else void slot.dispose();
      }
      entry.ready = keep;
      if (Date.now() - entry.lastUsed > this.options.maxIdleMs * 4) {
        for (const slot of entry.ready) void slot.dispose();
        this.slots.delete(key);
      } else {
        this.refill(key);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const all = [...this.slots.values()].flatMap((entry) => entry.ready);
    this.slots.clear();
    await Promise.all(all.map((slot) => slot.dispose()));
  }
}
