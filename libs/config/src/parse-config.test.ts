import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseConfig } from "./index.js";

const schema = z.object({
  NATS_URL: z.string().url(),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  API_KEY: z.string().min(10),
});

describe("parseConfig", () => {
  it("reads the environment, coerces numbers and applies defaults", () => {
    expect(parseConfig(schema, { NATS_URL: "nats://127.0.0.1:4222", API_KEY: "0123456789" })).toEqual({
      NATS_URL: "nats://127.0.0.1:4222",
      HTTP_PORT: 8080,
      API_KEY: "0123456789",
    });
  });

  it("lets explicit values beat the environment", () => {
    const config = parseConfig(
      schema,
      { NATS_URL: "nats://a:1", API_KEY: "0123456789", HTTP_PORT: "1" },
      { HTTP_PORT: 2 },
    );
    expect(config.HTTP_PORT).toBe(2);
  });

  it("names every bad variable and never echoes a secret", () => {
    try {
      parseConfig(schema, { NATS_URL: "not a url", HTTP_PORT: "99999", API_KEY: "short" });
      expect.unreachable();
    } catch (error) {
      const details = error as {
        code: string;
        details: { problems: Array<{ variable: string; received: string }> };
      };
      expect(details.code).toBe("INVALID_CONFIG");
      expect(details.details.problems.map((problem) => problem.variable).sort()).toEqual([
        "API_KEY",
        "HTTP_PORT",
        "NATS_URL",
      ]);
      expect(JSON.stringify(error)).not.toContain("short");
    }
  });
});
