import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { LlmErrorCode } from "./errors.js";
import {
  backoffDelay,
  defaultRetryOptions,
  fetchWithRetry,
  parseRetryAfter,
  parseRetryDelayBody,
} from "./http-retry.js";

describe("parseRetryAfter", () => {
  it("reads seconds, milliseconds and HTTP dates; ignores garbage", () => {
    expect(parseRetryAfter(new Headers({ "retry-after": "3" }))).toBe(3000);
    expect(parseRetryAfter(new Headers({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }), now)).toBe(5000);
    expect(parseRetryAfter(new Headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(parseRetryAfter(new Headers())).toBeUndefined();
  });
});

describe("parseRetryDelayBody", () => {
  it("reads Google's RetryInfo.retryDelay from an error body", () => {
    const body = JSON.stringify({
      error: {
        code: 429,
        status: "RESOURCE_EXHAUSTED",
        details: [
          { "@type": "type.googleapis.com/google.rpc.QuotaFailure" },
          { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1.5s" },
        ],
      },
    });
    expect(parseRetryDelayBody(body)).toBe(1500);
    expect(parseRetryDelayBody('{"error": {"message": "x"}}')).toBeUndefined();
    expect(parseRetryDelayBody("retryDelay but not json")).toBeUndefined();
  });
});

describe("backoffDelay", () => {
  it("grows exponentially, is capped, and jitters within [base·(1-jitter), base]", () => {
    const options = { ...defaultRetryOptions, initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 };
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, options))).toEqual([100, 200, 400, 800, 1000]);
    const jittered = { ...options, jitter: 0.5 };
    expect(backoffDelay(2, jittered, () => 0)).toBe(100);
    expect(backoffDelay(2, jittered, () => 1)).toBe(200);
  });
});

// A scripted fetch (fake): no network in unit tests.
function scriptedFetch(responses: (() => Response)[]) {
  const calls: string[] = [];
  const fetchFn = (async (url: string | URL) => {
    calls.push(String(url));
    const next = responses.shift();
    if (!next) throw new TypeError("fetch failed");
    return next();
  }) as typeof fetch;
  return { fetchFn, calls };
}

describe("fetchWithRetry", () => {
  it("retries 503 then returns the success, reporting each wait", async () => {
    const { fetchFn, calls } = scriptedFetch([
      () => new Response('{"error":{"message":"busy"}}', { status: 503 }),
      () => new Response("{}", { status: 200 }),
    ]);
    const waits: number[] = [];
    const response = await fetchWithRetry(
      "http://x/y",
      {},
      {
        provider: "test",
        fetch: fetchFn,
        retry: { initialDelayMs: 1, jitter: 0 },
        onRetry: (info) => waits.push(info.delayMs),
      },
    );
    expect(response.status).toBe(200);
    expect(calls).toHaveLength(2);
    expect(waits).toEqual([1]);
  });

  it("turns connection failures into LLM_UNAVAILABLE after the last attempt", async () => {
    const { fetchFn, calls } = scriptedFetch([]);
    const error = await fetchWithRetry(
      "http://x",
      {},
      {
        provider: "test",
        fetch: fetchFn,
        retry: { maxAttempts: 2, initialDelayMs: 1 },
      },
    ).catch((caught: unknown) => caught);
    expect((error as InsituError).code).toBe(LlmErrorCode.unavailable);
    expect((error as InsituError).details.attempts).toBe(2);
    expect(calls).toHaveLength(2);
  });

  it("fails without waiting when Retry-After is longer than allowed", async () => {
    const { fetchFn } = scriptedFetch([
      () => new Response("{}", { status: 429, headers: { "retry-after": "3600" } }),
      () => new Response("{}", { status: 200 }),
    ]);
    const error = await fetchWithRetry("http://x", {}, { provider: "test", fetch: fetchFn }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(InsituError);
    expect((error as InsituError).code).toBe(LlmErrorCode.rateLimited);
    expect((error as InsituError).details.retryAfterMs).toBe(3_600_000);
  });

  it("stops a retry wait at once when the caller aborts", async () => {
    const { fetchFn } = scriptedFetch([() => new Response("{}", { status: 500 })]);
    const controller = new AbortController();
    const pending = fetchWithRetry(
      "http://x",
      {},
      {
        provider: "test",
        fetch: fetchFn,
        signal: controller.signal,
        retry: { initialDelayMs: 60_000 },
        onRetry: () => controller.abort(),
      },
    );
    await expect(pending).rejects.toMatchObject({ code: LlmErrorCode.aborted });
  });
});
