import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InsituError } from "@insitu/errors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../io.js";
import { runReview } from "./review.js";

// A real HTTP server standing in for a gateway with GATEWAY_API_TOKEN (401 without the bearer).
const TOKEN = "review-token-0123456789abcdef";
let server: Server;
let url: string;
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request.headers.authorization);
    if (request.headers.authorization !== `Bearer ${TOKEN}`) {
      response.writeHead(401, { "content-type": "application/json" });
      response.end(
        JSON.stringify({ error: { code: "UNAUTHORIZED", message: "missing or wrong bearer token" } }),
      );
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ total: 0, versions: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const io = (env: Record<string, string | undefined>): CliIo & { output: string[] } => {
  const output: string[] = [];
  return { out: (text) => output.push(text), err: (text) => output.push(text), env, color: false, output };
};

describe("insitu review with a gateway token (ADR 0174)", () => {
  it("sends INSITU_GATEWAY_TOKEN from its environment as the bearer token", async () => {
    const withToken = io({ INSITU_GATEWAY_TOKEN: TOKEN });
    expect(await runReview(["list"], { gateway: url, json: true }, withToken)).toBe(0);
    expect(JSON.parse(withToken.output.join(""))).toEqual({ total: 0, versions: [] });
    expect(seen.at(-1)).toBe(`Bearer ${TOKEN}`);
  });

  it("without it, the gateway's refusal surfaces as UNAUTHORIZED", async () => {
    const error = await runReview(["list"], { gateway: url }, io({})).catch((e: unknown) => e);
    expect(InsituError.from(error).code).toBe("UNAUTHORIZED");
    expect(seen.at(-1)).toBeUndefined();
  });
});
