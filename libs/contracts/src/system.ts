import { z } from "zod";
import { defineEndpoint } from "./define.js";

/** A trivial endpoint every stack has, used by `insitu status` and the bus tests. */
export const Ping = defineEndpoint({
  service: "system",
  name: "ping",
  subject: "system.ping",
  version: 1,
  description: "Liveness round trip through the bus.",
  request: z.object({ text: z.string().max(1000) }).strict(),
  response: z.object({ text: z.string(), service: z.string() }).strict(),
});
