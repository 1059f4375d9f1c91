import { randomBytes } from "node:crypto";
import { type Bus, connectBus, type NatsServerHandle, startNatsServer } from "@insitu/bus";
import { defineWorkQueue } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runCli } from "../cli.js";

const queue = defineWorkQueue({
  stream: "cli_dlq_work",
  subject: "cli-dlq.work",
  version: 1,
  description: "Work items for the dlq command test.",
  schema: z.object({ n: z.number().int() }).strict(),
});

let server: NatsServerHandle;
let bus: Bus;
const prefix = `t${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  server = await startNatsServer();
  bus = await connectBus({ url: server.url, prefix, name: "cli-dlq-test" });
});
afterAll(async () => {
  await bus?.drain();
  await server?.dispose();
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli([...argv, "--nats", server.url, "--prefix", prefix], {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env: {},
    color: false,
  });
  return { code, out, err };
}

describe("insitu dlq", () => {
  it("lists, shows, retries and purges the stack's dead letters", async () => {
    expect((await cli("dlq", "list")).out).toBe("No dead letters.\n");
    let fail = true;
    const done: number[] = [];
    await bus.consume(queue, async (data) => {
      if (fail) throw new InsituError("poison", { code: "BAD_INPUT", category: "user" });
      done.push(data.n);
    });
    await bus.enqueue(queue, { n: 7 });
    await bus.enqueue(queue, { n: 8 });
    const deadline = Date.now() + 10_000;
    while ((await bus.deadLetters(queue)).length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const listed = await cli("dlq", "list", "cli-dlq.work", "--json");
    expect(listed.code).toBe(0);
    const letters = JSON.parse(listed.out) as Array<{ seq: number; reason: string }>;
    expect(letters.map((letter) => letter.reason)).toEqual(["poison", "poison"]);
    expect((await cli("dlq", "show", String(letters[0]!.seq))).out).toContain('"n": 7');
    fail = false;
    expect((await cli("dlq", "retry", String(letters[0]!.seq))).code).toBe(0);
    while (!done.includes(7) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(done).toEqual([7]);
    expect((await cli("dlq", "purge")).out).toBe("Purged 1 dead letter(s).\n");
    expect((await cli("dlq", "show", "abc")).code).toBe(2);
    expect((await cli("dlq", "show", "12345")).code).toBe(2);
  });
});
