import type { ProcessProfile, ProcessSlot } from "./process-slot.js";
import { profileKey } from "./process-slot.js";

export interface WarmPoolOptions {
  /** Processes kept waiting per hot profile at the least (0 turns the pool off). */
  perProfile: number;
  /**
   * Most processes kept waiting for one profile: a profile's depth grows to the size of the bursts
   * it sees (calls less than `burstGapMs` apart), up to this, and falls back to `perProfile` once the
   * profile has been idle for `maxIdleMs`.
   */
  maxPerProfile: number;
  /** Most processes waiting over all profiles (each holds ~35 MiB and a work dir). */
  maxTotal: number;
  /** Profiles kept warm (least recently used dropped first). */
  maxProfiles: number;
  /** A waiting process older than this is replaced (it holds memory and a work dir). */
  maxIdleMs: number;
  /** Calls of a profile closer together than this count as one burst. */
  burstGapMs: number;
  /**
   * Replacements are spawned once a profile has had no call for this long (between bursts, so a
   * spawn does not compete with the burst's calls) — or at once when none is left ready.
   */
  refillDelayMs: number;
}

export const DEFAULT_WARM_POOL: WarmPoolOptions = {
  perProfile: 1,
  // Opt-in (ADR 0141): deeper pools refilled at once starved a resident type-checker at load 20+.
  maxPerProfile: 1,
  maxTotal: 10,
  maxProfiles: 4,
  maxIdleMs: 60_000,
  burstGapMs: 1000,
  refillDelayMs: 30,
};

interface Entry {
  profile: ProcessProfile;
  ready: ProcessSlot[];
  lastUsed: number;
  /** Processes to keep ready: between `perProfile` and `maxPerProfile`, grown by bursts. */
  depth: number;
  /** Calls in the current burst, and when the last one came. */
  burst: number;
  lastTake: number;
  refillTimer?: NodeJS.Timeout;
}

/**
 * Pre-spawned, single-use Deno processes per permission profile. A process is taken out of the
 * pool for exactly one job and disposed after it; the pool spawns replacements in the background,
 * ahead of the next burst (ADR 0141).
 */
export class WarmPool {
  private readonly slots = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly options: WarmPoolOptions;
  private closed = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly spawn: (profile: ProcessProfile) => ProcessSlot,
    options: Partial<WarmPoolOptions>,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    this.options = { ...DEFAULT_WARM_POOL, ...options };
    this.options.maxPerProfile = Math.max(this.options.perProfile, this.options.maxPerProfile);
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, this.options.maxIdleMs / 2));
    this.sweeper.unref();
  }

  /** A ready process for this profile, or undefined (then the caller spawns cold). Marks the profile hot. */
  take(profile: ProcessProfile): ProcessSlot | undefined {
    if (this.closed || this.options.perProfile <= 0) return undefined;
    const key = profileKey(profile);
    let entry = this.slots.get(key);
    if (!entry) {
      entry = this.newEntry(profile);
      this.slots.set(key, entry);
      this.evictProfiles();
    }
    const now = performance.now();
    entry.burst = now - entry.lastTake < this.options.burstGapMs ? entry.burst + 1 : 1;
    entry.lastTake = now;
    entry.depth = Math.min(this.options.maxPerProfile, Math.max(entry.depth, entry.burst));
    entry.lastUsed = Date.now();
    // Re-insert to keep Map order = recency.
    this.slots.delete(key);
    this.slots.set(key, entry);
    for (const gone of entry.ready.filter((candidate) => !candidate.alive)) void gone.dispose();
    entry.ready = entry.ready.filter((candidate) => candidate.alive);
    // A started process first (it waits for its job); else the oldest, which is closest to started.
    const index = Math.max(
      0,
      entry.ready.findIndex((candidate) => candidate.started),
    );
    const slot: ProcessSlot | undefined = entry.ready.splice(index, 1)[0];
    if (slot) this.hits += 1;
    else this.misses += 1;
    return slot;
  }

  /** Marks a profile hot before any call used it (the start-up profile of tools without permissions). */
  prime(profile: ProcessProfile): void {
    if (this.closed || this.options.perProfile <= 0) return;
    const key = profileKey(profile);
    if (!this.slots.has(key)) {
      this.slots.set(key, this.newEntry(profile));
      this.evictProfiles();
    }
    setImmediate(() => this.refill(key));
  }

  /**
   * Tops the profile's processes up once a call has finished: at once when none is ready (the next
   * call would spawn cold), else after `refillDelayMs` without a call, so the spawns land between
   * bursts instead of competing with the calls of one for the CPU and the event loop.
   */
  replenish(profile: ProcessProfile): void {
    const key = profileKey(profile);
    const entry = this.slots.get(key);
    if (!entry || this.closed) return;
    if (entry.refillTimer) clearTimeout(entry.refillTimer);
    entry.refillTimer = undefined;
    if (entry.ready.length === 0) {
      setImmediate(() => this.refill(key));
      return;
    }
    const wait = this.options.refillDelayMs;
    const due = () => {
      const quietFor = performance.now() - entry.lastTake;
      if (quietFor < wait) {
        entry.refillTimer = setTimeout(due, wait - quietFor);
        entry.refillTimer.unref();
        return;
      }
      entry.refillTimer = undefined;
      this.refill(key);
    };
    entry.refillTimer = setTimeout(due, wait);
    entry.refillTimer.unref();
  }

  get size(): number {
    let total = 0;
    for (const entry of this.slots.values()) total += entry.ready.length;
    return total;
  }

  /** Waiting processes that have started (their runner waits for a job). */
  get started(): number {
    let total = 0;
    for (const entry of this.slots.values())
      total += entry.ready.filter((slot) => slot.alive && slot.started).length;
    return total;
  }

  /** The depth a profile is kept at now (for tests and metrics). */
  depthOf(profile: ProcessProfile): number {
    return this.slots.get(profileKey(profile))?.depth ?? 0;
  }

  private newEntry(profile: ProcessProfile): Entry {
    return {
      profile,
      ready: [],
      lastUsed: Date.now(),
      depth: this.options.perProfile,
      burst: 0,
      lastTake: -Infinity,
    };
  }

  private refill(key: string): void {
    const entry = this.slots.get(key);
    if (!entry || this.closed) return;
    while (entry.ready.length < entry.depth && this.size < this.options.maxTotal) {
      try {
        entry.ready.push(this.spawn(entry.profile));
      } catch (error) {
        this.onError(error);
        return;
      }
    }
  }

  private dropEntry(key: string, entry: Entry): void {
    if (entry.refillTimer) clearTimeout(entry.refillTimer);
    for (const slot of entry.ready) void slot.dispose();
    this.slots.delete(key);
  }

  private evictProfiles(): void {
    while (this.slots.size > this.options.maxProfiles) {
      const oldest = this.slots.keys().next().value;
      if (oldest === undefined) return;
      const entry = this.slots.get(oldest);
      if (entry) this.dropEntry(oldest, entry);
      else this.slots.delete(oldest);
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
        this.dropEntry(key, entry);
        continue;
      }
      if (Date.now() - entry.lastUsed > this.options.maxIdleMs) {
        // Idle: back to the floor depth; the processes beyond it are given back.
        entry.depth = this.options.perProfile;
        for (const slot of entry.ready.splice(entry.depth)) void slot.dispose();
      }
      this.refill(key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const entry of this.slots.values()) if (entry.refillTimer) clearTimeout(entry.refillTimer);
    const all = [...this.slots.values()].flatMap((entry) => entry.ready);
    this.slots.clear();
    await Promise.all(all.map((slot) => slot.dispose()));
  }
}
