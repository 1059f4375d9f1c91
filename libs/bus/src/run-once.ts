import type { Logger } from "@insitu/telemetry";
import { ErrorCode, InsituError } from "@insitu/errors";
import type { KvBucket, ObjectBucket } from "./types.js";

/** Where the outcomes of keyed calls are recorded (an Object Store bucket in production). */
export interface OutcomeStore<T> {
  get(key: string): Promise<T | undefined>;
  put(key: string, outcome: T): Promise<void>;
}

/** Records far above what a reply can carry are not worth refusing here: the reply limit applies. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * An Object Store bucket as an {@link OutcomeStore}: outcomes as JSON, read back through `parse`.
 * A record that is not bounded, valid UTF-8 JSON, or that `parse` says is not an outcome, is
 * quarantined (counted, listed by `insitu quarantine list`) and reads as absent: the call then
 * runs again rather than failing for it (ADR 0117).
 */
export function objectOutcomeStore<T>(
  bucket: ObjectBucket,
  parse: (value: unknown) => { value: T } | { problem: string },
): OutcomeStore<T> {
  return {
    async get(key) {
      const value = await bucket.getJson(key, { maxBytes: MAX_RECORD_BYTES, maxDepth: 256 });
      if (value === undefined) return undefined;
      const parsed = parse(value);
      if ("value" in parsed) return parsed.value;
      await bucket.quarantine(key, parsed.problem);
      return undefined;
    },
    async put(key, outcome) {
      await bucket.put(key, Buffer.from(JSON.stringify(outcome), "utf8"));
    },
  };
}

/** A replica's hold on a call key while it runs the call (see {@link CallClaims}). */
export interface CallClaim {
  /** Ends the hold (after the outcome is recorded, or when the run threw). */
  release(): Promise<void>;
}

/**
 * Which replica runs a keyed call. A holder keeps its claim alive while it runs; anyone else who
 * gets the same key waits for the holder's recorded outcome, and takes the claim over only when
 * its revision has not moved for the stale window — judged on the waiter's own clock, so clocks
 * of different hosts never have to agree.
 */
export interface CallClaims {
  /** Claims `key`, or says at which revision another holder has it. */
  acquire(key: string): Promise<CallClaim | { heldAt: number }>;
  /** Takes over a claim last seen at `revision`; undefined when someone else moved first. */
  takeOver(key: string, revision: number): Promise<CallClaim | undefined>;
  /** The claim's current revision; undefined once released. */
  revision(key: string): Promise<number | undefined>;
}

export const ClaimDefaults = {
  /** A holder renews its claim this often. */
  beatMs: 1_000,
  /** A claim whose revision has not moved for this long is the claim of a dead replica. */
  staleMs: 5_000,
  /** How often a waiter looks for the outcome. */
  pollMs: 200,
  /** A waiter gives up (retryable UNAVAILABLE) after this long even if the holder is alive. */
  maxWaitMs: 15 * 60_000,
} as const;

/** Claims in a KV bucket (`tool-call-claims` in production), one entry per key being run. */
export function kvCallClaims(
  bucket: KvBucket,
  owner: string,
  options: { beatMs?: number; logger?: Logger } = {},
): CallClaims {
  const beatMs = options.beatMs ?? ClaimDefaults.beatMs;
  const hold = (key: string, revision: number): CallClaim => {
    let current = revision;
    let beats = 0;
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = bucket.update(key, { owner, beats: ++beats }, current).then(
        (next) => {
          current = next;
        },
        (error: unknown) => {
          // Taken over (we looked dead) or JetStream trouble: the run goes on; its outcome is
          // recorded all the same, and the one who took over will find it or run again.
          clearInterval(timer);
          options.logger?.warn("lost the claim on a running tool call", { key, error });
        },
      );
    }, beatMs);
    timer.unref?.();
    return {
      async release() {
        clearInterval(timer);
        await renewing;
        await bucket.delete(key).catch(() => undefined);
      },
    };
  };
  return {
    async acquire(key) {
      for (;;) {
        try {
          return hold(key, await bucket.create(key, { owner, beats: 0 }));
        } catch (error) {
          if (!(error instanceof InsituError) || error.code !== ErrorCode.conflict) throw error;
        }
        const entry = await bucket.get(key);
        if (entry) return { heldAt: entry.revision };
        // Released between our create and our read: try again.
      }
    },
    async takeOver(key, revision) {
      try {
        return hold(key, await bucket.update(key, { owner, beats: 0, tookOver: true }, revision));
      } catch (error) {
        if (error instanceof InsituError && error.code === ErrorCode.conflict) return undefined;
        throw error;
      }
    },
    async revision(key) {
      return (await bucket.get(key))?.revision;
    },
  };
}

export interface CallOnceOptions {
  /** Shared claims: without them, only calls in this process are joined (one replica). */
  claims?: CallClaims;
  logger?: Logger;
  staleMs?: number;
  pollMs?: number;
  maxWaitMs?: number;
}

/**
 * Runs each keyed call at most once (docs/adr/0094; the sandbox's tool calls, the executor's
 * external MCP calls). A key seen before gets the recorded
 * outcome; a key still running in this process joins that run; a key another replica is running
 * (its claim is alive) waits for that replica's recorded outcome; otherwise the call runs under a
 * claim and its outcome is recorded before it is returned — so a caller killed mid-call, whose
 * step is redelivered and makes the same call again on any replica, does not repeat the tool's
 * side effects.
 *
 * Not covered: a sandbox killed mid-run has recorded nothing; once its claim goes stale the call
 * runs again (at least once). A call that threw (not a tool failure: those are outcomes) records
 * nothing and may run again.
 */
export class CallOnce<T> {
  private readonly running = new Map<string, Promise<T>>();
  private readonly claims: CallClaims | undefined;
  private readonly logger: Logger | undefined;
  private readonly staleMs: number;
  private readonly pollMs: number;
  private readonly maxWaitMs: number;

  constructor(
    private readonly store: OutcomeStore<T>,
    options: CallOnceOptions = {},
  ) {
    this.claims = options.claims;
    this.logger = options.logger;
    this.staleMs = options.staleMs ?? ClaimDefaults.staleMs;
    this.pollMs = options.pollMs ?? ClaimDefaults.pollMs;
    this.maxWaitMs = options.maxWaitMs ?? ClaimDefaults.maxWaitMs;
  }

  run(key: string | undefined, execute: () => Promise<T>): Promise<T> {
    if (key === undefined) return execute();
    const joined = this.running.get(key);
    if (joined) return joined;
    const run = this.once(key, execute);
    this.running.set(key, run);
    void run.then(
      () => this.running.delete(key),
      () => this.running.delete(key),
    );
    return run;
  }

  private async recorded(key: string): Promise<T | undefined> {
    try {
      return await this.store.get(key);
    } catch (error) {
      // JetStream trouble must not stop tool calls: the call runs unrecorded-checked (at least once).
      this.logger?.warn("could not read recorded tool-call results; running the call", { key, error });
      return undefined;
    }
  }

  private async once(key: string, execute: () => Promise<T>): Promise<T> {
    const recorded = await this.recorded(key);
    if (recorded) {
      this.logger?.info("tool call already made; answering with its recorded outcome", { key });
      return recorded;
    }
    const claim = await this.claim(key);
    if ("outcome" in claim) return claim.outcome;
    try {
      const outcome = await execute();
      try {
        await this.store.put(key, outcome);
      } catch (error) {
        // The tool has run: its outcome goes back all the same (failing now would only make the
        // caller run it again).
        this.logger?.warn("could not record a tool call's outcome", { key, error });
      }
      return outcome;
    } finally {
      // Not awaited: the reply need not wait for the claim's removal (a repeat finds the record).
      void claim.release();
    }
  }

  /**
   * This replica's claim on `key`, or the outcome another replica recorded while we waited.
   * Without shared claims, or when they fail, the call runs unclaimed (at least once).
   */
  private async claim(key: string): Promise<CallClaim | { outcome: T }> {
    const unclaimed: CallClaim = { release: async () => undefined };
    const claims = this.claims;
    if (!claims) return unclaimed;
    const started = Date.now();
    // After a wait, the holder may have recorded its outcome just before letting go.
    const unlessRecorded = async (held: CallClaim): Promise<CallClaim | { outcome: T }> => {
      const outcome = await this.recorded(key);
      if (!outcome) return held;
      await held.release();
      return { outcome };
    };
    try {
      for (let waited = false; ; waited = true) {
        const acquired = await claims.acquire(key);
        if (!("heldAt" in acquired)) return waited ? unlessRecorded(acquired) : acquired;
        this.logger?.info("another replica is running this tool call; waiting for its outcome", { key });
        let seen = acquired.heldAt;
        let seenAt = Date.now();
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, this.pollMs));
          const outcome = await this.recorded(key);
          if (outcome) return { outcome };
          const revision = await claims.revision(key);
          if (revision === undefined) break; // released without an outcome: claim it ourselves
          if (revision !== seen) {
            seen = revision;
            seenAt = Date.now();
          } else if (Date.now() - seenAt >= this.staleMs) {
            const taken = await claims.takeOver(key, revision);
            if (taken) {
              this.logger?.warn("took over a tool call whose replica stopped renewing its claim", { key });
              return unlessRecorded(taken);
            }
            seenAt = Date.now();
          }
          if (Date.now() - started > this.maxWaitMs) {
            throw new InsituError(`gave up waiting ${this.maxWaitMs} ms for another replica's tool call`, {
              code: ErrorCode.unavailable,
              retryable: true,
              details: { key },
            });
          }
        }
      }
    } catch (error) {
      if (error instanceof InsituError && error.code === ErrorCode.unavailable) throw error;
      this.logger?.warn("could not claim a tool call across replicas; running it", { key, error });
      return unclaimed;
    }
  }
}
