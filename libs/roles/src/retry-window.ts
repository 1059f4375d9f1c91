/**
 * Retrying a peer's outage within a window (docs/adr/0094). A request to a service that is down
 * or died mid-request fails fast as a retryable UNAVAILABLE (no-responders, or "peer lost" when
 * its liveness beats stop — ADR 0093); a service restarted within the window then answers the next
 * attempt, so the caller's step (a build, a round) goes on instead of being thrown away.
 */
export const DEFAULT_SANDBOX_RETRY_WINDOW_MS = 45_000;

/** Delays between attempts; the last one repeats. */
export const DEFAULT_RETRY_BACKOFF_MS: readonly number[] = [250, 500, 1_000, 2_000, 4_000];

export interface RetryWindowOptions {
  /** Attempts start until this long after the first one; 0 disables retrying. */
  windowMs: number;
  backoffMs?: readonly number[];
  /** Stops waiting (rejects with the last failure) when aborted. */
  signal?: AbortSignal;
  /** Told before each wait (for a log line). */
  onRetry?: (failure: PeerFailure, attempt: number, delayMs: number) => void;
  /** Clock and sleep, for unit tests. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The part of an InsituError this module reads (roles does not depend on @insitu/errors). */
interface PeerFailure extends Error {
  code: string;
  retryable: boolean;
  details: Record<string, unknown>;
}

/**
 * A failure that another attempt after a restart can cure: the peer was unavailable
 * (`UNAVAILABLE`, retryable — the bus's no-responders and peer-lost errors).
 */
export function isPeerOutage(error: unknown): error is PeerFailure {
  const candidate = error as Partial<PeerFailure> | undefined;
  return candidate?.code === "UNAVAILABLE" && candidate.retryable === true;
}

/** Runs `attempt`, again after a backoff on a peer outage, until it succeeds or the window is spent. */
export async function withinRetryWindow<T>(
  attempt: () => Promise<T>,
  options: RetryWindowOptions,
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const backoff = options.backoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  const started = now();
  for (let index = 0; ; index++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isPeerOutage(error)) throw error;
      const failure = error;
      const delay = backoff[Math.min(index, backoff.length - 1)] ?? 1_000;
      if (now() - started + delay > options.windowMs || options.signal?.aborted) throw failure;
      options.onRetry?.(failure, index + 1, delay);
      await sleep(delay, options.signal);
    }
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
