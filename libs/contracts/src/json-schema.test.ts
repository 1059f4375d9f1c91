import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { contractsJsonSchema } from "./index.js";

describe("generated JSON Schema of the contracts", () => {
  it("is current: docs/contracts/messages.schema.json matches the code (run `npm run contracts:gen`)", () => {
    const onDisk = JSON.parse(
      readFileSync(new URL("../../../docs/contracts/messages.schema.json", import.meta.url), "utf8"),
    );
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(contractsJsonSchema())));
  });

  it("describes every message with a schema", () => {
    const generated = contractsJsonSchema() as { messages: Record<string, { schema: { type?: string } }> };
    expect(generated.messages["system.ping.request@1"]?.schema.type).toBe("object");
  });
});
