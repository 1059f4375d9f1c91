import { InsituError } from "@insitu/errors";

/**
 * Bounded parallel executions with a bounded FIFO queue in front. A full queue refuses at once
 * with SANDBOX_BUSY (retryable): the bus delivers the request to another replica on retry.
 */
export class Admission {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueue: number,
    private readonly onChange: (state: { running: number; queued: number }) => void = () => {},
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueue) {
        throw new InsituError(`sandbox busy: ${this.running} running and ${this.waiting.length} queued`, {
          code: "SANDBOX_BUSY",
          category: "system",
          retryable: true,
          details: { running: this.running, queued: this.waiting.length },
        });
      }
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.notify();
      });
    } else {
      this.running += 1;
      this.notify();
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
      this.notify();
    }
  }

  private notify(): void {
    this.onChange({ running: this.running, queued: this.waiting.length });
  }
}
