import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import {
  type ClientRequest,
  Agent as HttpAgent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
  createServer,
  request as httpRequest,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { type Socket, connect, isIP } from "node:net";
import { type NetworkTarget, parseNetworkTarget } from "@insitu/tool-kit";
import { classifyAddress } from "./address.js";

/** Resolves a host name to the addresses the proxy may dial (tests inject their own). */
export type Resolver = (host: string) => Promise<string[]>;

/** The default resolver: the system's, every answer, in the order given. */
export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/** One request the proxy refused (reported in the call's outcome as `deniedEgress`). */
export interface EgressDenial {
  /** `host:port` as the tool asked for it. */
  target: string;
  method: string;
  /** Why, in words a model and an operator can act on. */
  reason: string;
  /** The resolved address that was refused, when the refusal is about an address. */
  address?: string;
}

/** One request the proxy forwarded or refused, as logged. */
export interface EgressLogEntry {
  tool: string;
  version?: string;
  task?: string;
  host: string;
  port: number;
  method: string;
  /** The origin's status; 403 for a refusal, 502 when the origin could not be reached. */
  status: number;
  /** Bytes sent to and received from the origin (bodies). */
  bytesOut: number;
  bytesIn: number;
  durationMs: number;
  denied?: string;
  /** The address dialled (or refused). */
  address?: string;
}

/** What one call may do through the proxy. */
export interface EgressCall {
  tool: string;
  version?: string;
  task?: string;
  /** The granted targets (`host` or `host:port`), as computed by the policy. */
  net: string[];
  /** Hosts the operator named as internal-but-allowed: their answers may be internal addresses. */
  internalHosts: string[];
  /**
   * Secrets of the call: the tool holds `placeholder`; in a forwarded request's *headers* it is
   * replaced by `value` when the target is one of `hosts` (any target of the call when absent).
   * Bodies, URLs and CONNECT tunnels are never rewritten (docs/adr/0103).
   */
  secrets?: { placeholder: string; value: string; hosts?: string[] }[];
  /** Bodies in and out, summed over the call's requests. */
  maxBytes: number;
  /** No request of this call runs past this moment (epoch ms). */
  deadline: number;
}

export interface EgressProxyOptions {
  resolver?: Resolver;
  /** Called for every request (forwarded or refused). */
  log?: (entry: EgressLogEntry) => void;
  /** Requests one call may make (default 1000). */
  maxRequestsPerCall?: number;
  /** Connect timeout to an origin (default 10 s, never past the call's deadline). */
  connectTimeoutMs?: number;
  /** Extra CA certificates for origins (tests); default Node's bundle. */
  originCa?: string | Buffer;
}

/** Headers the tool's runner talks to the proxy with; never forwarded, never accepted from an origin. */
export const EgressHeader = {
  token: "x-insitu-egress-token",
  target: "x-insitu-egress-target",
  /** On the proxy's answer: `origin` (the origin's response follows), `denied`, or `error`. */
  status: "x-insitu-egress-status",
  reason: "x-insitu-egress-reason",
} as const;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

interface OpenCall extends EgressCall {
  /** The secrets with their hosts parsed (undefined = any target). */
  swaps: { placeholder: string; value: string; hosts: NetworkTarget[] | undefined }[];
  denied: EgressDenial[];
  bytes: number;
  requests: number;
  grants: NetworkTarget[];
  internal: NetworkTarget[];
  /** CONNECT tunnels of the call. */
  sockets: Set<Socket>;
  /** Forwarded requests still in flight. */
  inflight: Set<ClientRequest>;
}

/** A call's handle: its token for the runner, its denials when it ends. */
export interface EgressTicket {
  token: string;
  /** Denials so far. */
  readonly denied: readonly EgressDenial[];
  /** Forgets the token and cuts the call's open connections; returns its denials. */
  close(): EgressDenial[];
}

/**
 * Puts each secret's value in place of its placeholder in the request's header values — only for
 * the secret's bound hosts (host, and port when bound with one). Anywhere else the placeholder goes
 * out as it is, so a tool that sends its key to another host leaks a string that means nothing.
 */
function swapSecrets(
  headers: OutgoingHttpHeaders,
  call: OpenCall,
  target: { host: string; port: number },
): void {
  const swaps = call.swaps.filter(
    (secret) =>
      secret.hosts === undefined ||
      secret.hosts.some(
        (host) => host.host === target.host && (host.port === undefined || host.port === target.port),
      ),
  );
  if (swaps.length === 0) return;
  const swap = (text: string) =>
    swaps.reduce((current, secret) => current.split(secret.placeholder).join(secret.value), text);
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === "string") headers[name] = swap(value);
    else if (Array.isArray(value)) headers[name] = value.map(swap);
  }
}

class Refusal extends Error {
  constructor(
    readonly reason: string,
    readonly address?: string,
  ) {
    super(reason);
  }
}

/**
 * The sandbox's egress proxy. Tool processes may reach nothing but this proxy (Deno
 * `--allow-net=<proxy>`); the runner's `fetch` sends each request here with the call's token and
 * the target URL. For each request the proxy checks the target against the call's grant, resolves
 * the name itself, refuses any answer that is internal in any spelling (unless the operator named
 * the host), and dials exactly the address it checked — no second lookup, so no rebinding. Bytes
 * and time are capped per call, every request is logged, every refusal recorded for the outcome.
 *
 * HTTPS is spoken by the proxy to the origin (the tool's leg is loopback plain HTTP), so the
 * origin's certificate is verified by Node against the name the tool asked for.
 * A hand-written client may also use CONNECT (token in Proxy-Authorization); the same checks apply
 * to the dialled address.
 */
export class EgressProxy {
  private readonly server: Server;
  private readonly calls = new Map<string, OpenCall>();
  private readonly resolver: Resolver;
  private address: { host: string; port: number } | undefined;
  private readonly listeners: ((entry: EgressLogEntry) => void)[] = [];
  // Connections to origins are kept alive and pooled by the *address* dialled (the agents never
  // resolve: the host they get is the checked address), which saves a TCP (and TLS) handshake on
  // every request after the first.
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });

  constructor(private readonly options: EgressProxyOptions = {}) {
    this.resolver = options.resolver ?? systemResolver;
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server.on("connect", (request: IncomingMessage, socket: Socket, head: Buffer) => {
      void this.tunnel(request, socket, head);
    });
    this.server.on("clientError", (_error, socket) => socket.destroy());
    // Connections from tools are short; never let one hold the server open.
    this.server.keepAliveTimeout = 5000;
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.address) return this.address;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const bound = this.server.address();
    if (!bound || typeof bound === "string") throw new Error("the egress proxy has no address");
    this.address = { host: "127.0.0.1", port: bound.port };
    return this.address;
  }

  /** `127.0.0.1:<port>`, the one `--allow-net` entry a tool process gets. */
  get hostPort(): string {
    if (!this.address) throw new Error("the egress proxy is not listening yet");
    return `${this.address.host}:${this.address.port}`;
  }

  get url(): string {
    return `http://${this.hostPort}/`;
  }

  /** Called for every request, forwarded or refused (metrics). */
  onRequest(listener: (entry: EgressLogEntry) => void): void {
    this.listeners.push(listener);
  }

  /** Registers one call; its token goes to the runner with the job. */
  open(call: EgressCall): EgressTicket {
    const token = randomBytes(24).toString("base64url");
    const open: OpenCall = {
      ...call,
      denied: [],
      bytes: 0,
      requests: 0,
      grants: parseTargets(call.net),
      internal: parseTargets(call.internalHosts),
      swaps: (call.secrets ?? []).map((secret) => ({
        placeholder: secret.placeholder,
        value: secret.value,
        hosts: secret.hosts === undefined ? undefined : parseTargets(secret.hosts),
      })),
      sockets: new Set(),
      inflight: new Set(),
    };
    this.calls.set(token, open);
    return {
      token,
      get denied() {
        return open.denied;
      },
      close: () => {
        this.calls.delete(token);
        for (const socket of open.sockets) socket.destroy();
        for (const request of open.inflight) request.destroy();
        return open.denied;
      },
    };
  }

  async close(): Promise<void> {
    for (const call of this.calls.values()) {
      for (const socket of call.sockets) socket.destroy();
      for (const request of call.inflight) request.destroy();
    }
    this.calls.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Checks a target for a call and resolves it; throws a Refusal naming why not. */
  private async check(call: OpenCall, host: string, port: number): Promise<{ address: string }> {
    const granted = call.grants.some(
      (grant) => grant.host === host && (grant.port === undefined || grant.port === port),
    );
    if (!granted)
      throw new Refusal("not declared in manifest.permissions.network or not allowed by the operator");
    const literal = host.startsWith("[") ? host.slice(1, -1) : host;
    const operatorNamed = call.internal.some(
      (entry) => entry.host === host && (entry.port === undefined || entry.port === port),
    );
    let addresses: string[];
    if (isIP(literal) !== 0) {
      addresses = [literal];
    } else {
      try {
        addresses = await withTimeout(this.resolver(host), Math.max(1, call.deadline - Date.now()));
      } catch (error) {
        throw new Refusal(`the name does not resolve: ${(error as Error).message}`);
      }
      if (addresses.length === 0) throw new Refusal("the name does not resolve");
    }
    if (!operatorNamed) {
      // Any internal answer refuses the whole name: a mixed answer is how rebinding starts.
      for (const address of addresses) {
        const internal = classifyAddress(address);
        if (internal) throw new Refusal(`resolves to an internal address (${internal})`, address);
      }
    }
    return { address: addresses[0] as string };
  }

  private deny(
    call: OpenCall | undefined,
    target: { host: string; port: number },
    method: string,
    refusal: Refusal,
    started: number,
  ): void {
    if (!call) return;
    const denial: EgressDenial = {
      target: `${target.host}:${target.port}`,
      method,
      reason: refusal.reason,
      ...(refusal.address ? { address: refusal.address } : {}),
    };
    if (call.denied.length < 32) call.denied.push(denial);
    this.log(call, target, method, 403, 0, 0, started, refusal.reason, refusal.address);
  }

  private log(
    call: OpenCall,
    target: { host: string; port: number },
    method: string,
    status: number,
    bytesOut: number,
    bytesIn: number,
    started: number,
    denied?: string,
    address?: string,
  ): void {
    const entry: EgressLogEntry = {
      tool: call.tool,
      ...(call.version ? { version: call.version } : {}),
      ...(call.task ? { task: call.task } : {}),
      host: target.host,
      port: target.port,
      method,
      status,
      bytesOut,
      bytesIn,
      durationMs: Math.round(performance.now() - started),
      ...(denied ? { denied } : {}),
      ...(address ? { address } : {}),
    };
    this.options.log?.(entry);
    for (const listener of this.listeners) listener(entry);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = request.method ?? "GET";
    // Absolute-form (a plain HTTP proxy client) carries the token in Proxy-Authorization; the
    // runner's fetch sends it in its own header with the target beside it.
    const absolute = request.url?.startsWith("http://") === true;
    const token = absolute ? proxyToken(request.headers) : headerValue(request.headers[EgressHeader.token]);
    const call = token === undefined ? undefined : this.calls.get(token);
    if (!call) {
      request.resume();
      return answer(response, 403, "denied", "unknown or expired egress token");
    }
    const targetText = absolute ? request.url : headerValue(request.headers[EgressHeader.target]);
    let url: URL;
    try {
      url = new URL(targetText ?? "");
    } catch {
      request.resume();
      return answer(response, 400, "error", "no valid target URL");
    }
    const target = { host: url.hostname, port: Number(url.port || (url.protocol === "https:" ? 443 : 80)) };
    const refuse = (refusal: Refusal) => {
      request.resume();
      this.deny(call, target, method, refusal, started);
      answer(response, 403, "denied", refusal.reason);
    };
    if (url.protocol !== "http:" && url.protocol !== "https:")
      return refuse(new Refusal(`the ${url.protocol} scheme is not proxied`));
    if (absolute && url.protocol !== "http:")
      return refuse(new Refusal("absolute-form requests are http only"));
    if (url.username || url.password) return refuse(new Refusal("user info in the URL is not allowed"));
    call.requests += 1;
    if (call.requests > (this.options.maxRequestsPerCall ?? 1000))
      return refuse(new Refusal("too many requests in one call"));
    if (Date.now() >= call.deadline) return refuse(new Refusal("the call's time is up"));
    let checked: { address: string };
    try {
      checked = await this.check(call, target.host, target.port);
    } catch (error) {
      if (error instanceof Refusal) return refuse(error);
      throw error;
    }

    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith("x-insitu-egress-")) continue;
      headers[name] = value;
    }
    headers.host = url.host;
    swapSecrets(headers, call, target);
    const remaining = Math.max(1, call.deadline - Date.now());
    const literal = target.host.startsWith("[") ? target.host.slice(1, -1) : target.host;
    const options = {
      // Exactly the address that was checked: no lookup happens after the check.
      host: checked.address,
      port: target.port,
      method,
      path: `${url.pathname}${url.search}`,
      headers,

      timeout: Math.min(remaining, this.options.connectTimeoutMs ?? 10_000),
    };
    const outbound =
      url.protocol === "https:"
        ? httpsRequest({
            ...options,
            // The certificate is checked against the name the tool asked for, not the address.
            servername: isIP(literal) === 0 ? literal : undefined,
            ...(this.options.originCa ? { ca: this.options.originCa } : {}),
            agent: this.httpsAgent,
          })
        : httpRequest({ ...options, agent: this.httpAgent });
    call.inflight.add(outbound);
    outbound.once("close", () => call.inflight.delete(outbound));
    let bytesOut = 0;
    let bytesIn = 0;
    let finished = false;
    const deadline = setTimeout(() => {
      outbound.destroy(new Error("the call's time is up"));
    }, remaining);
    const overBudget = () => call.bytes > call.maxBytes;
    const fail = (message: string, denied?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      if (denied && call.denied.length < 32)
        call.denied.push({ target: `${target.host}:${target.port}`, method, reason: denied });
      this.log(call, target, method, 502, bytesOut, bytesIn, started, denied, checked.address);
      if (!response.headersSent) answer(response, denied ? 403 : 502, denied ? "denied" : "error", message);
      else response.destroy();
      outbound.destroy();
    };
    outbound.on("error", (error) => fail(`the origin could not be reached: ${error.message}`));
    outbound.on("timeout", () => fail("the origin did not answer in time"));
    request.on("data", (chunk: Buffer) => {
      bytesOut += chunk.length;
      call.bytes += chunk.length;
      if (overBudget()) fail("the call's byte budget is spent", "byte budget of the call exceeded");
    });
    request.pipe(outbound);
    outbound.on("response", (origin) => {
      const forwarded: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(origin.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith("x-insitu-egress-")) continue;
        forwarded[name] = value;
      }
      forwarded[EgressHeader.status] = "origin";
      response.writeHead(origin.statusCode ?? 502, origin.statusMessage, forwarded);
      origin.on("data", (chunk: Buffer) => {
        bytesIn += chunk.length;
        call.bytes += chunk.length;
        if (overBudget()) fail("the call's byte budget is spent", "byte budget of the call exceeded");
      });
      origin.on("error", (error) => fail(error.message));
      origin.on("end", () => {
        if (finished) return;
        finished = true;
        clearTimeout(deadline);
        this.log(
          call,
          target,
          method,
          origin.statusCode ?? 0,
          bytesOut,
          bytesIn,
          started,
          undefined,
          checked.address,
        );
      });
      origin.pipe(response);
    });
  }

  /** CONNECT host:port — a raw tunnel to the checked address (no secret swapping inside it). */
  private async tunnel(request: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = performance.now();
    socket.on("error", () => undefined);
    const token = proxyToken(request.headers);
    const call = token === undefined ? undefined : this.calls.get(token);
    if (!call) {
      socket.end("HTTP/1.1 407 Proxy Authentication Required\r\nconnection: close\r\n\r\n");
      return;
    }
    const parsed = parseNetworkTarget(request.url ?? "");
    const target = { host: parsed?.host ?? String(request.url), port: parsed?.port ?? 443 };
    const refuse = (refusal: Refusal) => {
      this.deny(call, target, "CONNECT", refusal, started);
      socket.end(
        `HTTP/1.1 403 Forbidden\r\n${EgressHeader.status}: denied\r\n${EgressHeader.reason}: ${encodeURIComponent(refusal.reason)}\r\nconnection: close\r\n\r\n`,
      );
    };
    if (!parsed || parsed.port === undefined) return refuse(new Refusal("CONNECT needs host:port"));
    call.requests += 1;
    if (call.requests > (this.options.maxRequestsPerCall ?? 1000))
      return refuse(new Refusal("too many requests in one call"));
    let checked: { address: string };
    try {
      checked = await this.check(call, target.host, target.port);
    } catch (error) {
      if (error instanceof Refusal) return refuse(error);
      throw error;
    }
    const remaining = Math.max(1, call.deadline - Date.now());
    const upstream = connect({ host: checked.address, port: target.port });
    call.sockets.add(upstream);
    call.sockets.add(socket);
    let bytesIn = 0;
    let bytesOut = head.length;
    const timer = setTimeout(() => {
      upstream.destroy();
      socket.destroy();
    }, remaining);
    const done = () => {
      clearTimeout(timer);
      call.sockets.delete(upstream);
      call.sockets.delete(socket);
      upstream.destroy();
      socket.destroy();
    };
    upstream.on("error", () => {
      if (!socket.destroyed && bytesIn === 0)
        socket.end("HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n");
      done();
    });
    upstream.on("close", () => {
      this.log(call, target, "CONNECT", 200, bytesOut, bytesIn, started, undefined, checked.address);
      done();
    });
    socket.on("close", done);
    upstream.once("connect", () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      const count = (direction: "in" | "out") => (chunk: Buffer) => {
        if (direction === "in") bytesIn += chunk.length;
        else bytesOut += chunk.length;
        call.bytes += chunk.length;
        if (call.bytes > call.maxBytes) {
          if (call.denied.length < 32)
            call.denied.push({
              target: `${target.host}:${target.port}`,
              method: "CONNECT",
              reason: "byte budget of the call exceeded",
            });
          done();
        }
      };
      upstream.on("data", count("in"));
      socket.on("data", count("out"));
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
  }
}

function answer(response: ServerResponse, status: number, kind: "denied" | "error", reason: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    [EgressHeader.status]: kind,
    [EgressHeader.reason]: encodeURIComponent(reason),
    connection: "close",
  });
  response.end(reason);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The token from `Proxy-Authorization: Basic base64(anything:token)`. */
function proxyToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headerValue(headers["proxy-authorization"]);
  const match = value ? /^Basic\s+(.+)$/i.exec(value) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] ?? "", "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? decoded : decoded.slice(colon + 1);
}

function parseTargets(entries: string[]): NetworkTarget[] {
  return entries
    .map((entry) => parseNetworkTarget(entry))
    .filter((target): target is NetworkTarget => target !== undefined);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("resolution timed out")), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
