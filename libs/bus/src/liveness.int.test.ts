import { natsConnectOptions } from "./auth.js";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ErrorCode, InsituError } from "@insitu/errors";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEnvelope } from "./codec.js";
import { slowEcho } from "./fixtures/queue.js";
import { type Bus, connectBus, endpoint, type NatsServerHandle, startNatsServer } from "./index.js";
import { beatIntervalOf, LIVENESS_HEADER, PeerFailure } from "./liveness.js";

/**
 * Liveness beats (docs/adr/0093) against a real nats-server, with the responder in another
 * process where it must die. Windows are short (1.5 s) so the tests stay quick; the requests'
 * timeouts are long (2 min) so a pass can only come from the beats, never from the timeout.
 */
const WINDOW_MS = 1_500;
const LONG_TIMEOUT_MS = 120_000;

let server: NatsServerHandle;
const children: ChildProcess[] = [];
const buses: Bus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.allSettled(buses.map((bus) => bus.drain()));
  await server.dispose();
});

const uniquePrefix = () => `t${randomBytes(4).toString("hex")}`;

async function bus(prefix: string, livenessWindowMs = WINDOW_MS): Promise<Bus> {
  const connected = await connectBus({ url: server.url, prefix, name: "liveness-test", livenessWindowMs });
  buses.push(connected);
  return connected;
}

/** The slow-echo responder in its own process; resolves once it is subscribed. */
async function slowPeer(
  prefix: string,
  mode: "slow" | "die" = "slow",
): Promise<{ child: ChildProcess; handling: Promise<void> }> {
  const script = fileURLToPath(new URL("./fixtures/peer.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, mode, "slow-peer"], {
    env: { ...process.env, NATS_URL: server.url, NATS_PREFIX: prefix },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  let handled: () => void = () => undefined;
  const handling = new Promise<void>((resolve) => {
    handled = resolve;
  });
  await new Promise<void>((resolve, reject) => {
    lines.on("line", (line) => {
      if (line === "ready") resolve();
      if (line === "handling") handled();
    });
    child.once("exit", (code, signal) => reject(new Error(`peer exited early with ${code ?? signal}`)));
  });
  return { child, handling };
}

describe("liveness beats on long requests", () => {
  it("a responder killed mid-request fails the request as retryable peer-lost, not at its timeout", async () => {
    const prefix = uniquePrefix();
    const { child, handling } = await slowPeer(prefix);
    const client = await bus(prefix);
    const pending = client.request(
      slowEcho,
      { text: "hi", delayMs: 600_000 },
      { timeoutMs: LONG_TIMEOUT_MS },
    );
    const failure = pending.catch((error: unknown) => error);
    await handling;
    // Killed after beating a while (beats come every window / 5 from arrival).
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    child.kill("SIGKILL");
    const error = await failure;
    expect(error).toBeInstanceOf(InsituError);
    expect(error).toMatchObject({
      code: ErrorCode.unavailable,
      retryable: true,
      details: { reason: PeerFailure.peerLost },
    });
    // It had heard the responder before it went quiet.
    expect((error as InsituError).details.beats).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("a responder that dies the instant its handler starts is still given up within the window", async () => {
    // It dies before its first beat: the requester's window runs from publish, so it is still
    // given up in a window, not at its timeout (docs/adr/0176).
    const prefix = uniquePrefix();
    await slowPeer(prefix, "die");
    const client = await bus(prefix);
    const error = await client
      .request(slowEcho, { text: "x", delayMs: 0 }, { timeoutMs: 30_000 })
      .catch((failure: unknown) => failure);
    expect(error).toMatchObject({
      code: ErrorCode.unavailable,
      details: { reason: PeerFailure.peerLost, beats: 0 },
    });
  }, 60_000);

  it("a slow responder that is alive is waited on well past the window", async () => {
    const prefix = uniquePrefix();
    await slowPeer(prefix);
    const client = await bus(prefix);
    const reply = await client.request(
      slowEcho,
      { text: "still here", delayMs: WINDOW_MS * 4 },
      { timeoutMs: LONG_TIMEOUT_MS },
    );
    expect(reply.text).toBe("still here");
  }, 60_000);

  it("requests waiting in the responder's line are beaten for too", async () => {
    const prefix = uniquePrefix();
    const responder = await bus(prefix);
    await responder.serve({
      name: "bus-test",
      version: "0.1.0",
      description: "one at a time",
      concurrency: 1,
      endpoints: [
        endpoint(slowEcho, async (data) => {
          await new Promise((resolve) => setTimeout(resolve, data.delayMs));
          return { text: data.text };
        }),
      ],
    });
    const client = await bus(prefix);
    const replies = await Promise.all(
      ["first", "second"].map((text) =>
        client.request(slowEcho, { text, delayMs: WINDOW_MS * 2 }, { timeoutMs: LONG_TIMEOUT_MS }),
      ),
    );
    expect(replies.map((reply) => reply.text)).toEqual(["first", "second"]);
  }, 60_000);

  it("a responder that takes a request and never beats is given up within the window", async () => {
    const prefix = uniquePrefix();
    // A raw responder that ignores the liveness header and would answer only after three windows.
    const raw = await connect(natsConnectOptions(server.url));
    let askedForBeats = false;
    raw.subscribe(`${prefix}.${slowEcho.subject}`, {
      callback: (_error, message) => {
        askedForBeats = beatIntervalOf(message.reply) !== undefined && message.headers === undefined;
        setTimeout(
          () => message.respond(encodeEnvelope(slowEcho.response, { text: "too late" })),
          WINDOW_MS * 3,
        );
      },
    });
    await raw.flush();
    try {
      const client = await bus(prefix);
      const started = Date.now();
      const error = await client
        .request(slowEcho, { text: "x", delayMs: 0 }, { timeoutMs: LONG_TIMEOUT_MS })
        .catch((failure: unknown) => failure);
      expect(askedForBeats).toBe(true);
      expect(error).toMatchObject({
        code: ErrorCode.unavailable,
        details: { reason: PeerFailure.peerLost, beats: 0 },
      });
      expect(Date.now() - started).toBeLessThan(WINDOW_MS * 3);
    } finally {
      await raw.close();
    }
  }, 60_000);

  it("a fast answer to a long request costs no beat", async () => {
    const prefix = uniquePrefix();
    const responder = await bus(prefix);
    await responder.serve({
      name: "bus-test",
      version: "0.1.0",
      description: "answers at once",
      endpoints: [endpoint(slowEcho, async (data) => ({ text: data.text }))],
    });
    const watcher = await connect(natsConnectOptions(server.url));
    let beats = 0;
    watcher.subscribe("_INBOX.>", {
      callback: (_error, message) => {
        if (message.headers?.get(LIVENESS_HEADER)) beats++;
      },
    });
    await watcher.flush();
    try {
      const client = await bus(prefix);
      for (let i = 0; i < 20; i++) {
        const reply = await client.request(
          slowEcho,
          { text: `n${i}`, delayMs: 0 },
          { timeoutMs: LONG_TIMEOUT_MS },
        );
        expect(reply.text).toBe(`n${i}`);
      }
      await watcher.flush();
      expect(beats).toBe(0);
    } finally {
      await watcher.close();
    }
  }, 60_000);

  it("a subject nobody serves fails at once as retryable no-responders, long timeout or short", async () => {
    const client = await bus(uniquePrefix());
    for (const timeoutMs of [LONG_TIMEOUT_MS, 5_000]) {
      const error = await client
        .request(slowEcho, { text: "anyone?", delayMs: 0 }, { timeoutMs })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: ErrorCode.unavailable, retryable: true });
      expect((error as InsituError).message).toMatch(/no service is serving/);
    }
  }, 60_000);

  it("a short request does not ask for beats (the plain, header-free path)", async () => {
    const prefix = uniquePrefix();
    const raw = await connect(natsConnectOptions(server.url));
    let header: string | undefined = "unset";
    raw.subscribe(`${prefix}.${slowEcho.subject}`, {
      callback: (_error, message) => {
        header =
          beatIntervalOf(message.reply) === undefined
            ? message.headers?.get(LIVENESS_HEADER) || undefined
            : "asked";
        message.respond(encodeEnvelope(slowEcho.response, { text: "quick" }));
      },
    });
    await raw.flush();
    try {
      const client = await bus(prefix);
      const reply = await client.request(slowEcho, { text: "x", delayMs: 0 }, { timeoutMs: 2_000 });
      expect(reply.text).toBe("quick");
      expect(header).toBeUndefined();
    } finally {
      await raw.close();
    }
  }, 30_000);
});
