/** Per-session caps on `tools/call`: a rate (token bucket) and calls in flight. */
export interface SessionLimitOptions {
  /** Calls allowed per minute (burst up to the same number). */
  callsPerMinute: number;
  /** Calls running at once. */
  maxConcurrent: number;
}

export class SessionLimiter {
  private tokens: number;
  private last: number;
  private running = 0;

  constructor(
    private readonly options: SessionLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = options.callsPerMinute;
    this.last = now();
  }

  /** Takes a slot, or returns why not (then nothing was taken). */
  acquire(): { ok: true; release: () => void } | { ok: false; reason: string } {
    const now = this.now();
    this.tokens = Math.min(
      this.options.callsPerMinute,
      this.tokens + ((now - this.last) / 60_000) * this.options.callsPerMinute,
    );
    this.last = now;
    if (this.running >= this.options.maxConcurrent) {
      return {
        ok: false,
        reason: `this session already has ${this.running} calls running (limit ${this.options.maxConcurrent}); wait for one to finish`,
      };
    }
    if (this.tokens < 1) {
      return {
        ok: false,
        reason: `this session exceeded ${this.options.callsPerMinute} calls per minute; retry in ${Math.ceil(((1 - this.tokens) * 60_000) / this.options.callsPerMinute / 1000)} s`,
      };
    }
    this.tokens -= 1;
    this.running++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.running--;
      },
    };
  }
}
