import { testTrust } from "./testing.js";
import { createMemoryBus } from "@insitu/bus/testing";
import { createLogger } from "@insitu/telemetry";
import { describe, expect, it } from "vitest";
import { type CatalogTool, buildCatalog, estimateTokens } from "./catalog.js";
import { loadQualityLibrary } from "./quality-set.js";
import { Registry } from "./registry.js";

const tool = (
  name: string,
  calls: number,
  description = `Does ${name.replace(/_/g, " ")}.`,
): CatalogTool => ({
  name,
  hash: `sha256:${name}`,
  description,
  calls,
});

describe("buildCatalog", () => {
  const tools = Array.from({ length: 400 }, (_, index) => tool(`use_tool_${index}`, 1000 - index));

  it("lists the most used first and says how many more exist beyond the budget", () => {
    const catalog = buildCatalog(tools, { budgetTokens: 500 });
    expect(catalog.entries[0]?.name).toBe("use_tool_0");
    expect(catalog.entries.map((entry) => entry.calls)).toEqual(
      [...catalog.entries.map((entry) => entry.calls)].sort((left, right) => right - left),
    );
    expect(catalog.related).toBe(0);
    expect(catalog.omitted).toBe(400 - catalog.entries.length);
    expect(catalog.text).toContain(`(${catalog.omitted} more tools exist`);
    expect(catalog.tokens).toBeLessThanOrEqual(500);
  });

  it("puts the task's related tools first, within their share of the budget, each listed once", () => {
    const related = [
      "use_tool_399",
      "not_in_library",
      "use_tool_398",
      "use_tool_0",
      ...tools.slice(200).map((item) => item.name),
    ];
    const catalog = buildCatalog(tools, { budgetTokens: 1000, related, relatedShare: 0.3 });
    expect(catalog.entries.slice(0, 3).map((entry) => entry.name)).toEqual([
      "use_tool_399",
      "use_tool_398",
      "use_tool_0",
    ]);
    expect(catalog.entries.some((entry) => entry.name === "not_in_library")).toBe(false);
    const names = catalog.entries.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    // The neighbourhood stops at its share; the rest of the budget goes to the most used.
    const relatedText = catalog.text.split("\n").slice(0, catalog.related).join("\n");
    expect(estimateTokens(relatedText)).toBeLessThanOrEqual(20 + 300);
    expect(catalog.related).toBeGreaterThan(3);
    expect(catalog.entries[catalog.related]?.name).toBe("use_tool_1");
    expect(catalog.tokens).toBeLessThanOrEqual(1000);
    expect(catalog.omitted).toBe(400 - catalog.entries.length);
  });
});

describe("registry catalog with a task", () => {
  // The registry on the in-memory bus (a FAKE of NATS KV from @insitu/bus/testing); retrieval and
  // catalog are the real ones.
  it("leads with the library tools retrieved for the question and capabilities, minus the excluded", async () => {
    const bus = createMemoryBus();
    const registry = await Registry.open(bus, {
      trust: testTrust,
      logger: createLogger({ service: "test", level: "error" }),
    });
    const filler = Array.from({ length: 300 }, (_, index) => ({
      name: `process_record_${index}`,
      description: `Processes record batch ${index} of the warehouse ledger.`,
      parameters: ["record"],
      calls: 500 + index,
    }));
    await loadQualityLibrary(bus, registry, [
      ...filler,
      {
        name: "geocode_address",
        description: "Turns a place name or address into latitude and longitude.",
        parameters: ["address"],
        calls: 1,
      },
      {
        name: "compute_geodesic_distance",
        description: "Great-circle distance in kilometres between two latitude/longitude points.",
        parameters: ["from", "to"],
        calls: 2,
      },
    ]);
    const plain = await registry.catalog({ budgetTokens: 1000 });
    expect(plain.related).toBe(0);
    expect(plain.entries.some((entry) => entry.name === "geocode_address")).toBe(false);

    const task = await registry.catalog({
      budgetTokens: 1000,
      query: "How far is Reykjavik from Anchorage?",
      capabilities: ["latitude and longitude of a place", "great-circle distance"],
      exclude: ["compute_geodesic_distance"],
    });
    expect(task.entries[0]?.name).toBe("geocode_address");
    expect(task.related).toBeGreaterThanOrEqual(1);
    expect(task.entries.some((entry) => entry.name === "compute_geodesic_distance")).toBe(false);
    expect(task.tokens).toBeLessThanOrEqual(1000);
    registry.stop();
  });
});
