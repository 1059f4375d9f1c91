/**
 * Permission refusals (docs/adr/0120, 0171): a send the server refuses fails at once with BUS_FORBIDDEN.
 * Part of NatsBus (nats-bus.ts): each function takes the bus first.
 */
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import type { NatsBus } from "./nats-bus.js";

/** Whether a refused subject is a `$JS.API` call on this stream (or the account info every client asks first). */
function apiSubjectNames(subject: string, stream: string): boolean {
  if (subject === "$JS.API.INFO") return true;
  const tokens = subject.split(".");
  return tokens[0] === "$JS" && tokens[1] === "API" && tokens.slice(3).includes(stream);
}

function forbidden(
  user: string | undefined,
  operation: string,
  subject: string,
  cause: unknown,
): InsituError {
  return new InsituError(
    `the bus refused to let ${user === undefined ? "this connection" : `user "${user}"`} ${operation === "subscription" ? "subscribe to" : "publish on"} ${subject}: not in its permissions`,
    {
      code: ErrorCode.busForbidden,
      category: ErrorCategory.user,
      retryable: false,
      details: { ...(user === undefined ? {} : { user }), operation, subject },
      cause,
    },
  );
}

/**
 * nats-server answers a publish this user may not make with an asynchronous `-ERR Permissions
 * Violation` and drops the message: a request would only time out. Every violation is logged
 * with the user and subject, and whatever is waiting on that subject fails with BUS_FORBIDDEN.
 */
export function watchPermissionViolations(bus: NatsBus): void {
  void (async () => {
    for await (const status of bus.connection.status()) {
      if (status.type !== "error") continue;
      const error = status.error as Error & { operation?: string; subject?: string };
      if (error.name !== "PermissionViolationError") continue;
      const typed = forbidden(bus.user, error.operation ?? "publish", error.subject ?? "", error);
      bus.logger.error("bus permission denied", {
        user: bus.user ?? "(none)",
        operation: error.operation ?? "publish",
        subject: error.subject ?? "",
      });
      for (const fail of bus.pendingBySubject.get(error.subject ?? "") ?? []) fail(typed);
      for (const pending of bus.pendingApi) {
        if (apiSubjectNames(error.subject ?? "", pending.stream)) pending.fail(typed);
      }
    }
  })().catch(() => undefined);
}

/** Runs a send on `subject`, failing it with BUS_FORBIDDEN as soon as the server refuses that subject. */
export function guarded<T>(bus: NatsBus, subject: string, send: () => Promise<T>): Promise<T> {
  let fail: ((error: InsituError) => void) | undefined;
  const refused = new Promise<never>((_, reject) => {
    fail = reject;
  });
  let waiting = bus.pendingBySubject.get(subject);
  if (!waiting) {
    waiting = new Set();
    bus.pendingBySubject.set(subject, waiting);
  }
  const set = waiting;
  let violation: InsituError | undefined;
  const onViolation = (error: InsituError) => {
    violation = error;
    fail?.(error);
  };
  set.add(onViolation);
  const sent = send().catch(async (error: unknown) => {
    // The server may answer "no responders" before its -ERR is read: a PING round trip makes
    // sure any violation it sent for this publish has been seen.
    if (!violation) await bus.connection.flush().catch(() => undefined);
    throw violation ?? error;
  });
  return Promise.race([sent, refused]).finally(() => {
    set.delete(onViolation);
    if (set.size === 0) bus.pendingBySubject.delete(subject);
  });
}

/**
 * Runs JetStream API calls on `stream` (open a stream, bucket or consumer), failing them with
 * BUS_FORBIDDEN as soon as the server refuses one of that stream's API subjects: without this a
 * refused `$JS.API` request only times out (ADR 0171).
 */
export function guardedApi<T>(bus: NatsBus, stream: string, send: () => Promise<T>): Promise<T> {
  let violation: InsituError | undefined;
  let fail: ((error: InsituError) => void) | undefined;
  const refused = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const pending = {
    stream,
    fail: (error: InsituError) => {
      violation = error;
      fail?.(error);
    },
  };
  bus.pendingApi.add(pending);
  const sent = send().catch(async (error: unknown) => {
    if (!violation) await bus.connection.flush().catch(() => undefined);
    throw violation ?? error;
  });
  return Promise.race([sent, refused]).finally(() => bus.pendingApi.delete(pending));
}
