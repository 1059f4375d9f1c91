import { ErrorCode, InsituError } from "@insitu/errors";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { createInbox, headers as createHeaders, Empty } from "@nats-io/nats-core";

/**
 * Liveness of long requests (docs/adr/0093, 0176). A request whose timeout is long is sent to an
 * inbox whose name carries the beat interval (`<prefix>.lv<ms>_<nuid>.<token>`, no header); a
 * responder that reads it sends an empty message with the `Insitu-Liveness: beat` header to the
 * reply inbox every interval from arrival while the handler runs (queued requests included). The
 * requester gives up with a retryable UNAVAILABLE ("peer lost") once no beat or reply came for its
 * window, counted from publish — seconds after the responder died, instead of the full timeout.
 * Every bus responder beats; one that does not (not a NatsBus) is taken for dead after a window.
 */
export const LIVENESS_HEADER = "Insitu-Liveness";

export const LivenessDefaults = {
  /** Requests with a timeout above this use beats; shorter ones keep the plain request path. */
  thresholdMs: 10_000,
  /** No beat or reply for this long (from publish, then from each beat): the responder is gone. */
  windowMs: 5_000,
  /** Beats per window: a responder may miss a few (GC, a loaded machine) before it is given up. */
  beatsPerWindow: 5,
} as const;

/** The mark of an inbox whose requests ask for beats: `lv<interval ms>_<nuid>` (docs/adr/0176). */
const BEAT_INBOX_MARK = "lv";
const BEAT_INBOX_PATTERN = /^lv(\d{1,6})_[0-9A-Za-z]+$/;

/** Beat intervals a responder accepts from a request (anything else is clamped). */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 10_000;

/** Reason recorded in `details.reason` of the UNAVAILABLE errors raised here. */
export const PeerFailure = {
  noResponders: "no-responders",
  peerLost: "peer-lost",
} as const;

export interface LivenessRequest {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
  timeoutMs: number;
  windowMs: number;
}

/** One pending liveness request: how its reply inbox's messages are routed back to it. */
type PendingRequest = (error: Error | null, message: Msg) => void;

/**
 * Sends requests that ask for beats and resolves each with the first message that is not a beat
 * (the reply, or an error reply). Rejects typed: TIMEOUT after `timeoutMs`; UNAVAILABLE
 * (retryable) when nobody serves the subject or the beats stop.
 *
 * All requests of one connection share one wildcard inbox subscription (`<prefix>.<nuid>.*`), as
 * nats.js multiplexes plain requests: a request costs one PUB, not SUB + PUB + UNSUB (docs/adr/0176).
 */
export class LivenessRequester {
  private readonly pending = new Map<string, PendingRequest>();
  private readonly bases = new Map<number, string>();
  private next = 0;

  constructor(
    private readonly connection: NatsConnection,
    /** The connection's inbox prefix (a bus user may read only its own, `_INBOX.<user>`). */
    private readonly inboxPrefix?: string,
  ) {}

  request(request: LivenessRequest): Promise<Msg> {
    const interval = Math.max(
      MIN_INTERVAL_MS,
      Math.floor(request.windowMs / LivenessDefaults.beatsPerWindow),
    );
    const headers = request.headers;
    const token = (this.next++).toString(36);
    const inbox = `${this.inbox(interval)}.${token}`;
    return new Promise<Msg>((resolve, reject) => {
      let windowTimer: NodeJS.Timeout | undefined;
      let beats = 0;
      const started = Date.now();
      const finish = (error: InsituError | undefined, message?: Msg) => {
        clearTimeout(overall);
        clearTimeout(windowTimer);
        this.pending.delete(token);
        if (error) reject(error);
        else resolve(message as Msg);
      };
      const overall = setTimeout(
        () =>
          finish(
            new InsituError(`no reply on ${request.subject} within ${request.timeoutMs} ms`, {
              code: ErrorCode.timeout,
              retryable: true,
              details: { subject: request.subject, timeoutMs: request.timeoutMs, beats },
            }),
          ),
        request.timeoutMs,
      );
      const armWindow = () => {
        clearTimeout(windowTimer);
        windowTimer = setTimeout(
          () =>
            finish(
              new InsituError(
                `the service answering ${request.subject} stopped responding (no liveness beat for ${request.windowMs} ms)`,
                {
                  code: ErrorCode.unavailable,
                  retryable: true,
                  details: {
                    subject: request.subject,
                    reason: PeerFailure.peerLost,
                    windowMs: request.windowMs,
                    beats,
                    afterMs: Date.now() - started,
                  },
                },
              ),
            ),
          request.windowMs,
        );
      };
      this.pending.set(token, (error, message) => {
        if (error) {
          finish(
            new InsituError(`request on ${request.subject} failed: ${error.message}`, {
              code: ErrorCode.unavailable,
              retryable: true,
              details: { subject: request.subject },
              cause: error,
            }),
          );
          return;
        }
        if (message.headers?.get(LIVENESS_HEADER)) {
          beats++;
          armWindow();
          return;
        }
        if (message.data.length === 0 && message.headers?.code === 503) {
          finish(
            new InsituError(`no service is serving ${request.subject}`, {
              code: ErrorCode.unavailable,
              retryable: true,
              details: { subject: request.subject, reason: PeerFailure.noResponders },
            }),
          );
          return;
        }
        finish(undefined, message);
      });
      try {
        this.connection.publish(request.subject, request.data, { reply: inbox, headers });
        // Armed at publish, not at a first beat: a responder that takes the request and dies
        // before its first beat is given up within the window too (docs/adr/0176).
        armWindow();
      } catch (error) {
        finish(
          new InsituError(`request on ${request.subject} failed: ${(error as Error).message}`, {
            code: ErrorCode.unavailable,
            retryable: true,
            details: { subject: request.subject },
            cause: error,
          }),
        );
      }
    });
  }

  /**
   * The shared inbox for one beat interval, subscribed on first use; a subscription error fails
   * every pending request. The interval rides in the inbox's name (`<prefix>.lv<ms>_<nuid>`), not in
   * a header: headers cost a loopback request much of its latency (ADR 0002), and this way a
   * request that asks for beats carries none (docs/adr/0176).
   */
  private inbox(interval: number): string {
    const known = this.bases.get(interval);
    if (known !== undefined) return known;
    const plain = createInbox(this.inboxPrefix ?? "");
    const cut = plain.lastIndexOf(".");
    const base = `${plain.slice(0, cut + 1)}${BEAT_INBOX_MARK}${interval}_${plain.slice(cut + 1)}`;
    this.connection.subscribe(`${base}.*`, {
      callback: (error, message) => {
        if (error) {
          for (const route of [...this.pending.values()]) route(error, message);
          return;
        }
        const token = message.subject.slice(base.length + 1);
        this.pending.get(token)?.(null, message);
      },
    });
    this.bases.set(interval, base);
    return base;
  }
}

/**
 * The beat interval a request asks for, read from its reply subject (`….lv<ms>_<nuid>.<token>`), or
 * undefined for a request that asks for none. nats.js's own inboxes never match: a nuid has no `_`.
 */
export function beatIntervalOf(reply: string | undefined): number | undefined {
  if (!reply) return undefined;
  const end = reply.lastIndexOf(".");
  const start = reply.lastIndexOf(".", end - 1);
  if (end < 0) return undefined;
  const marked = BEAT_INBOX_PATTERN.exec(reply.slice(start + 1, end));
  if (!marked) return undefined;
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Number(marked[1])));
}

/**
 * Starts beating to a request's reply inbox when the request asked for it: every interval from
 * arrival until `stop` (call it before or right after responding). The first beat is due one
 * interval after arrival, not at once: a request answered within it — nearly all of them — costs
 * no beat, no extra message and no flush; the requester arms its window at publish, so a
 * responder killed before any beat is still given up within the window (docs/adr/0176).
 * Returns a no-op for requests that did not ask.
 */
export function startBeats(connection: NatsConnection, message: Pick<Msg, "reply">): () => void {
  const interval = beatIntervalOf(message.reply);
  const reply = message.reply;
  if (interval === undefined || !reply) return () => undefined;
  const headers = createHeaders();
  headers.set(LIVENESS_HEADER, "beat");
  const timer = setInterval(() => {
    try {
      connection.publish(reply, Empty, { headers });
    } catch {
      // closing or disconnected: the requester's window decides
    }
  }, interval);
  timer.unref?.();
  return () => clearInterval(timer);
}
