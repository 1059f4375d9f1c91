/**
 * Secrets as placeholders (docs/adr/0103): the tool's environment holds a placeholder, and the
 * egress proxy puts the real value into request headers only for the hosts the secret is bound to.
 * Real Deno, real proxy, two local origins that record what reached them (and answer without
 * echoing it, so the tool's output shows what the tool itself could see).
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Sandbox, defaultPolicy } from "@insitu/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const VALUE = "sk-live-7c1f0e9b2d";

interface Seen {
  authorization?: string;
  apiKey?: string;
  url: string;
  body: string;
}

function origin(seen: Seen[]): Server {
  return createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      seen.push({
        ...(typeof request.headers.authorization === "string"
          ? { authorization: request.headers.authorization }
          : {}),
        ...(typeof request.headers["x-api-key"] === "string" ? { apiKey: request.headers["x-api-key"] } : {}),
        url: request.url ?? "",
        body,
      });
      response.writeHead(200, { "content-type": "application/json" });
      response.end('{"ok":true}');
    });
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

const seenBound: Seen[] = [];
const seenOther: Seen[] = [];
let bound: Server;
let other: Server;
let boundPort: number;
let otherPort: number;

beforeAll(async () => {
  bound = origin(seenBound);
  other = origin(seenOther);
  [boundPort, otherPort] = [await listen(bound), await listen(other)];
});

afterAll(async () => {
  await Promise.all([bound, other].map((server) => new Promise((resolve) => server.close(resolve))));
});

function sandboxWith(secretHosts: Record<string, string[]>): Sandbox {
  return new Sandbox({
    policy: defaultPolicy({
      secrets: { API_KEY: VALUE },
      secretHosts,
      internalHosts: [`127.0.0.1:${boundPort}`, `127.0.0.1:${otherPort}`],
    }),
    concurrency: 1,
    warm: { perProfile: 0 },
  });
}

/** Sends the key to both origins in every place a request can carry it, and returns its env. */
function leakyTool() {
  const manifest = {
    name: "send_key_everywhere",
    description: "Sends its API key to two hosts in headers, URL and body.",
    inputSchema: { type: "object", properties: {} },
    outputSchema: { type: "object" },
    permissions: { network: [`127.0.0.1:${boundPort}`, `127.0.0.1:${otherPort}`], secrets: ["API_KEY"] },
  };
  const code = `export const manifest = ${JSON.stringify(manifest)};
export default async function run() {
  const key = Deno.env.get("API_KEY") ?? "";
  const answers = [];
  for (const port of [${boundPort}, ${otherPort}]) {
    const response = await fetch("http://127.0.0.1:" + port + "/q?key=" + encodeURIComponent(key), {
      method: "POST",
      headers: { authorization: "Bearer " + key, "x-api-key": key },
      body: JSON.stringify({ key }),
    });
    answers.push(await response.text());
  }
  return { key, answers };
}`;
  return { code, manifest };
}

describe("secrets as placeholders", () => {
  it("a bound secret reaches its host in headers only; the other host, URLs, bodies and the tool see a placeholder", async () => {
    seenBound.length = 0;
    seenOther.length = 0;
    const sandbox = sandboxWith({ API_KEY: [`127.0.0.1:${boundPort}`] });
    try {
      const outcome = await sandbox.exec({ tool: leakyTool(), input: {}, grantedSecrets: ["API_KEY"] });
      expect(outcome.status).toBe("ok");
      const output = (outcome as { output: { key: string } }).output;
      const placeholder = output.key;
      expect(placeholder).toMatch(/^insitu-secret-API_KEY-[0-9a-f]{24}$/);
      // Nothing the tool could see holds the value.
      expect(JSON.stringify(outcome)).not.toContain(VALUE);

      expect(seenBound).toEqual([
        {
          authorization: `Bearer ${VALUE}`,
          apiKey: VALUE,
          url: `/q?key=${placeholder}`,
          body: JSON.stringify({ key: placeholder }),
        },
      ]);
      expect(seenOther).toEqual([
        {
          authorization: `Bearer ${placeholder}`,
          apiKey: placeholder,
          url: `/q?key=${placeholder}`,
          body: JSON.stringify({ key: placeholder }),
        },
      ]);
    } finally {
      await sandbox.close();
    }
  });

  it("an unbound secret is swapped in for every host of the call, still only in headers", async () => {
    seenBound.length = 0;
    seenOther.length = 0;
    const sandbox = sandboxWith({});
    try {
      const outcome = await sandbox.exec({ tool: leakyTool(), input: {}, grantedSecrets: ["API_KEY"] });
      expect(outcome.status).toBe("ok");
      expect(JSON.stringify(outcome)).not.toContain(VALUE);
      for (const seen of [...seenBound, ...seenOther]) {
        expect(seen.authorization).toBe(`Bearer ${VALUE}`);
        expect(seen.url).not.toContain(VALUE);
        expect(seen.body).not.toContain(VALUE);
      }
      expect(seenBound.length + seenOther.length).toBe(2);
    } finally {
      await sandbox.close();
    }
  });

  it("a placeholder from another call is not swapped", async () => {
    seenBound.length = 0;
    const sandbox = sandboxWith({ API_KEY: [`127.0.0.1:${boundPort}`] });
    try {
      const first = await sandbox.exec({ tool: leakyTool(), input: {}, grantedSecrets: ["API_KEY"] });
      const stale = (first as { output: { key: string } }).output.key;
      const manifest = {
        name: "replay_placeholder",
        description: "Sends a placeholder it was given by someone else.",
        inputSchema: { type: "object", properties: { stale: { type: "string" } }, required: ["stale"] },
        outputSchema: { type: "object" },
        permissions: { network: [`127.0.0.1:${boundPort}`], secrets: [] },
      };
      const code = `export const manifest = ${JSON.stringify(manifest)};
export default async function run(input: { stale: string }) {
  await (await fetch("http://127.0.0.1:${boundPort}/", { headers: { authorization: input.stale } })).text();
  return {};
}`;
      seenBound.length = 0;
      const outcome = await sandbox.exec({ tool: { code, manifest }, input: { stale } });
      expect(outcome.status).toBe("ok");
      expect(seenBound[0]?.authorization).toBe(stale);
    } finally {
      await sandbox.close();
    }
  });
});
