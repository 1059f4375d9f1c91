/**
 * The egress proxy over real sockets (no Deno: the corpus in test/security drives it from tools).
 * The resolver is a fake DNS, labelled as such; the origin is a real local HTTP/TCP server.
 */
import { once } from "node:events";
import { type Server, createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EgressHeader, type EgressLogEntry, EgressProxy } from "./proxy.js";

let origin: Server;
let originPort = 0;
let proxy: EgressProxy;
const log: EgressLogEntry[] = [];

beforeAll(async () => {
  origin = createServer((request, response) => {
    if (request.url === "/big") {
      response.end("x".repeat(64 * 1024));
      return;
    }
    response.setHeader("x-insitu-egress-status", "denied"); // an origin cannot fake a refusal
    response.end(
      JSON.stringify({
        host: request.headers.host,
        url: request.url,
        token: request.headers[EgressHeader.token] ?? null,
      }),
    );
  });
  origin.listen(0, "127.0.0.1");
  await once(origin, "listening");
  originPort = (origin.address() as AddressInfo).port;
  proxy = new EgressProxy({
    // Fake DNS: a public-looking name for the local origin, and one answering with mapped loopback.
    resolver: async (host) => {
      if (host === "origin.proxy-test.example") return ["127.0.0.1"];
      if (host === "mapped.proxy-test.example") return ["::ffff:127.0.0.1"];
      throw new Error(`ENOTFOUND ${host}`);
    },
    log: (entry) => log.push(entry),
  });
  await proxy.listen();
});

afterAll(async () => {
  await proxy?.close();
  await new Promise((resolve) => origin?.close(resolve));
});

function openCall(net: string[], internalHosts: string[] = [], maxBytes = 1024 * 1024) {
  return proxy.open({
    tool: "probe_tool",
    version: "sha256-test",
    task: "task-1",
    net,
    internalHosts,
    maxBytes,
    deadline: Date.now() + 10_000,
  });
}

async function viaProxy(token: string, target: string): Promise<Response> {
  return fetch(proxy.url, { headers: { [EgressHeader.token]: token, [EgressHeader.target]: target } });
}

async function connectVia(token: string, target: string): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port: Number(proxy.hostPort.split(":")[1]) });
  await once(socket, "connect");
  const auth = Buffer.from(`call:${token}`).toString("base64");
  socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\nproxy-authorization: Basic ${auth}\r\n\r\n`);
  const [chunk] = (await once(socket, "data")) as [Buffer];
  socket.destroy();
  return chunk.toString("latin1");
}

describe("EgressProxy", () => {
  it("forwards a granted request to the checked address, with the host the tool asked for, and logs it", async () => {
    const host = "origin.proxy-test.example";
    const ticket = openCall([`${host}:${originPort}`], [`${host}:${originPort}`]);
    const response = await viaProxy(ticket.token, `http://${host}:${originPort}/path?q=1`);
    expect(response.status).toBe(200);
    // The origin's own copy of a proxy header never reaches the tool.
    expect(response.headers.get(EgressHeader.status)).toBe("origin");
    expect(await response.json()).toEqual({ host: `${host}:${originPort}`, url: "/path?q=1", token: null });
    expect(ticket.close()).toEqual([]);
    expect(log.at(-1)).toMatchObject({
      tool: "probe_tool",
      version: "sha256-test",
      task: "task-1",
      host,
      method: "GET",
      status: 200,
      address: "127.0.0.1",
    });
    expect(log.at(-1)?.bytesIn).toBeGreaterThan(0);
  });

  it("refuses an unknown token", async () => {
    const response = await viaProxy("nope", `http://127.0.0.1:${originPort}/`);
    expect(response.status).toBe(403);
    expect(response.headers.get(EgressHeader.reason)).toMatch(/token/);
  });

  it("refuses a name answering internal, and records it", async () => {
    const ticket = openCall([`mapped.proxy-test.example:${originPort}`]);
    const response = await viaProxy(ticket.token, `http://mapped.proxy-test.example:${originPort}/`);
    expect(response.status).toBe(403);
    expect(response.headers.get(EgressHeader.status)).toBe("denied");
    expect(ticket.close()).toEqual([
      {
        target: `mapped.proxy-test.example:${originPort}`,
        method: "GET",
        reason: "resolves to an internal address (loopback)",
        address: "::ffff:127.0.0.1",
      },
    ]);
  });

  it("caps the bytes of a call", async () => {
    const ticket = openCall([`127.0.0.1:${originPort}`], [`127.0.0.1:${originPort}`], 1024);
    const outcome = await viaProxy(ticket.token, `http://127.0.0.1:${originPort}/big`)
      .then((response) => response.text())
      .then(
        (text) => text.length,
        () => "cut",
      );
    expect(outcome === "cut" || (typeof outcome === "number" && outcome < 64 * 1024)).toBe(true);
    expect(ticket.close()).toEqual([expect.objectContaining({ reason: "byte budget of the call exceeded" })]);
  });

  it("tunnels CONNECT only to a granted target whose address passes the check", async () => {
    const granted = openCall(
      [`origin.proxy-test.example:${originPort}`],
      [`origin.proxy-test.example:${originPort}`],
    );
    expect(await connectVia(granted.token, `origin.proxy-test.example:${originPort}`)).toMatch(
      /^HTTP\/1.1 200/,
    );
    granted.close();

    const mapped = openCall([`mapped.proxy-test.example:${originPort}`]);
    expect(await connectVia(mapped.token, `mapped.proxy-test.example:${originPort}`)).toMatch(
      /^HTTP\/1.1 403/,
    );
    expect(mapped.close()).toEqual([
      expect.objectContaining({ method: "CONNECT", address: "::ffff:127.0.0.1" }),
    ]);

    const undeclared = openCall([]);
    expect(await connectVia(undeclared.token, "127.0.0.1:4222")).toMatch(/^HTTP\/1.1 403/);
    expect(undeclared.close()).toEqual([
      expect.objectContaining({ target: "127.0.0.1:4222", reason: expect.stringMatching(/not declared/) }),
    ]);
  });
});
