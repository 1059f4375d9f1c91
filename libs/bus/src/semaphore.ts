/** Bounds how many async jobs run at once; the rest wait in FIFO order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`semaphore limit must be >= 1, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async acquire(): Promise<() => void> {
    if (this.active < this.limit) {
      this.active++;
      return this.releaser();
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    return this.releaser();
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await job();
    } finally {
      release();
    }
  }

  /** Like {@link run}, but starts `job` synchronously when a slot is free (no await on the way in). */
  runNow<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) return this.run(job);
    this.active++;
    const release = this.releaser();
    let running: Promise<T>;
    try {
      running = job();
    } catch (error) {
      release();
      return Promise.reject(error);
    }
    return running.finally(release);
  }

  /** Resolves once nothing is running or waiting. */
  async idle(): Promise<void> {
    while (this.active > 0 || this.waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }
}
