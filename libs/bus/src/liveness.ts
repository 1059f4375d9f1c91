import { ErrorCode, InsituError } from "@insitu/errors";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { createInbox, headers as createHeaders, Empty } from "@nats-io/nats-core";

/**
 * Liveness of long requests (docs/adr/0093). A request whose timeout is long carries this header
 * with the beat interval in ms; a responder that knows it sends an empty message with the same
 * header to the reply inbox at once and then every interval while the handler runs (queued
 * requests included). The requester treats beats as keep-alive and gives up with a retryable
 * UNAVAILABLE ("peer lost") once no beat or reply came for its window — seconds after the
 * responder died, instead of the full timeout. A responder that never beats (an older build) is
 * waited on for the full timeout as before: the window is enforced only after a first beat.
 */
export const LIVENESS_HEADER = "Insitu-Liveness";

export const LivenessDefaults = {
  /** Requests with a timeout above this use beats; shorter ones keep the plain request path. */
  thresholdMs: 10_000,
  /** No beat or reply for this long after a first beat: the responder is gone. */
  windowMs: 5_000,
  /** Beats per window: a responder may miss a few (GC, a loaded machine) before it is given up. */
  beatsPerWindow: 5,
} as const;

/** Beat intervals a responder accepts from a request header (anything else is clamped). */
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
  /** The connection's inbox prefix (a bus user may read only its own, `_INBOX.<user>`). */
  inboxPrefix?: string | undefined;
}

/**
 * Sends a request that asks for beats and resolves with the first message that is not a beat
 * (the reply, or an error reply). Rejects typed: TIMEOUT after `timeoutMs`; UNAVAILABLE
 * (retryable) when nobody serves the subject or the beats stop.
 */
export function requestWithLiveness(connection: NatsConnection, request: LivenessRequest): Promise<Msg> {
  const interval = Math.max(MIN_INTERVAL_MS, Math.floor(request.windowMs / LivenessDefaults.beatsPerWindow));
  const headers = request.headers ?? createHeaders();
  headers.set(LIVENESS_HEADER, String(interval));
  const inbox = createInbox(request.inboxPrefix ?? "");
  return new Promise<Msg>((resolve, reject) => {
    let windowTimer: NodeJS.Timeout | undefined;
    let beats = 0;
    const started = Date.now();
    const finish = (error: InsituError | undefined, message?: Msg) => {
      clearTimeout(overall);
      clearTimeout(windowTimer);
      subscription.unsubscribe();
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
    const subscription = connection.subscribe(inbox, {
      callback: (error, message) => {
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
      },
    });
    try {
      connection.publish(request.subject, request.data, { reply: inbox, headers });
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

/** What `startBeats` hands back: `sent` settles once the first beat reached the server. */
export interface Beats {
  stop: () => void;
  sent: Promise<void>;
}

/**
 * Starts beating to a request's reply inbox when the request asked for it. `sent` resolves once
 * the first beat is flushed to the server: run the handler only after it, so a responder killed
 * while handling has always been seen alive once and its requester enforces the window (a kill
 * between receipt and that flush, before any work, still waits for the full timeout). `stop`
 * ends the beats (call it before or right after responding). No-op for other requests.
 */
export function startBeats(connection: NatsConnection, message: Pick<Msg, "reply" | "headers">): Beats {
  const asked = message.headers?.get(LIVENESS_HEADER);
  const reply = message.reply;
  if (!asked || !reply) return { stop: () => undefined, sent: Promise.resolve() };
  const requested = Number(asked);
  const interval = Number.isFinite(requested)
    ? Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, requested))
    : LivenessDefaults.windowMs / LivenessDefaults.beatsPerWindow;
  const headers = createHeaders();
  headers.set(LIVENESS_HEADER, "beat");
  const beat = () => {
    try {
      connection.publish(reply, Empty, { headers });
    } catch {
      // closing or disconnected: the requester's window decides
    }
  };
  beat();
  const sent = connection.flush().catch(() => undefined);
  const timer = setInterval(beat, interval);
  timer.unref?.();
  return { stop: () => clearInterval(timer), sent };
}
