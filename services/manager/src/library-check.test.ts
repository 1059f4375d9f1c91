import type { ToolRequest } from "@insitu/contracts";
import { InsituError } from "@insitu/errors";
import { emptyUsage } from "@insitu/llm";
import { createLogger } from "@insitu/telemetry";
import { describe, expect, it } from "vitest";
import { COVERAGE, capabilityOf, coverage, matchRequests } from "./library-check.js";
import type { CatalogRequest } from "./machine.js";
import type { Plan, PlanInput, ToolCandidate } from "./planner.js";
import { renderPlanPrompt } from "./planner.js";
import { type ManagerDeps, createManager } from "./service.js";
import { inlineSteps } from "./testing.js";
import type { Effect, ManagerState } from "./state.js";

const request = (name: string, description: string, parameters: string[]): ToolRequest => ({
  name,
  description,
  input_schema: {
    type: "object",
    properties: Object.fromEntries(parameters.map((parameter) => [parameter, { type: "string" }])),
  },
  output_schema: { type: "object", properties: {} },
});

const tool = (name: string, description: string, parameters: string[]): ToolCandidate => ({
  name,
  version: `sha256:${name}`,
  description,
  inputSchema: {
    type: "object",
    properties: Object.fromEntries(parameters.map((parameter) => [parameter, { type: "string" }])),
  },
  source: "library",
});

const fetchUrlText = tool(
  "fetch_url_text",
  "Fetches a web page over HTTP(S) and returns its readable text with markup removed.",
  ["url", "max_chars"],
);
const dateDifference = tool(
  "compute_date_difference",
  "Counts the days, weeks, months and years between two calendar dates.",
  ["start_date", "end_date"],
);

describe("coverage", () => {
  it("scores a reworded request for a library tool as covered, an unrelated one as not", () => {
    const same = request("fetch_text_url", "Fetch the readable text of a web page given its URL.", ["url"]);
    expect(coverage(same, fetchUrlText)).toBeGreaterThanOrEqual(COVERAGE.strong);
    const maybe = request("get_webpage_content", "Returns the text content of a web page.", ["url"]);
    const score = coverage(maybe, fetchUrlText);
    expect(score).toBeGreaterThanOrEqual(COVERAGE.ambiguous);
    expect(score).toBeLessThan(COVERAGE.strong);
    expect(coverage(same, dateDifference)).toBeLessThan(COVERAGE.ambiguous);
  });

  it("matches each request to the best covering hit of its own capability query", async () => {
    const queries: string[] = [];
    const matches = await matchRequests(
      [
        request("fetch_text_url", "Fetch the readable text of a web page given its URL.", ["url"]),
        request("solve_sudoku", "Solves a sudoku grid.", ["grid"]),
      ],
      async (capability) => {
        queries.push(capability);
        return [dateDifference, fetchUrlText];
      },
    );
    expect(queries[0]).toMatch(/^fetch text url: Fetch the readable text/);
    expect(matches).toHaveLength(1);
    expect(matches[0]).toMatchObject({ request: "fetch_text_url", strong: true });
    expect(matches[0]?.tool.name).toBe("fetch_url_text");
  });
});

describe("the plan prompt", () => {
  it("lists the catalog and the library matches", () => {
    const prompt = renderPlanPrompt({
      question: "q",
      round: 1,
      maxRounds: 3,
      candidates: [],
      capabilityRequests: [],
      taskId: "t",
      catalog: {
        text: "- search_web: Searches the web\n(212 more tools exist …)",
        total: 213,
        omitted: 212,
        entries: [{ name: "search_web", version: "sha256:s" }],
      },
      libraryMatches: [{ request: "fetch_text_url", tool: "fetch_url_text", strong: true }],
    });
    expect(prompt).toContain(
      "## Library catalog (213 tools: most related to this task first, then most used)",
    );
    expect(prompt).toContain("- search_web: Searches the web");
    expect(prompt).toMatch(/`fetch_text_url` is covered by the library tool `fetch_url_text`/);
  });
});

/** FAKE stores and ports (in-memory, compare-and-set like the KV bucket) around the real machine. */
function manager(plans: Plan[], library: ToolCandidate[]) {
  const states = new Map<string, { state: ManagerState; revision: number }>();
  const performed: Effect[] = [];
  const planInputs: PlanInput[] = [];
  const catalogRequests: CatalogRequest[] = [];
  let avoided = 0;
  const steps = new Map<string, unknown>();
  const queues = inlineSteps();
  const deps: ManagerDeps = {
    store: {
      async get(taskId) {
        const entry = states.get(taskId);
        return entry ? structuredClone(entry) : undefined;
      },
      async create(state) {
        if (states.has(state.record.taskId)) throw new InsituError("exists", { code: "CONFLICT" });
        states.set(state.record.taskId, { state: structuredClone(state), revision: 1 });
        return 1;
      },
      async update(state, revision) {
        const entry = states.get(state.record.taskId);
        if (!entry || entry.revision !== revision) throw new InsituError("moved", { code: "CONFLICT" });
        states.set(state.record.taskId, { state: structuredClone(state), revision: revision + 1 });
        return revision + 1;
      },
      async list() {
        return [...states.values()].map((entry) => entry.state);
      },
    },
    effects: {
      async enqueueManager(work) {
        queues.enqueue(work);
      },
      async perform(effect) {
        if (!queues.perform(effect)) performed.push(effect);
      },
    },
    async plan(input) {
      planInputs.push(structuredClone(input));
      const plan = plans.shift();
      if (!plan) throw new Error("no plan scripted");
      return { plan, usage: { ...emptyUsage(), inputTokens: 10 } };
    },
    async judge() {
      throw new Error("not reached");
    },
    // The question finds nothing; a capability query finds the library's tools.
    async search({ query }) {
      return query.includes(":") ? library : [];
    },
    // FAKE catalog: records what it is asked; asked with capabilities, it leads with a neighbour.
    async catalog(input) {
      catalogRequests.push(structuredClone(input));
      const entries = [{ name: "search_web", version: "sha256:search_web" }];
      if (input.capabilities)
        entries.unshift({ name: "extract_page_text", version: "sha256:extract_page_text" });
      return {
        text: entries.map((entry) => `- ${entry.name}: …`).join("\n"),
        total: 3,
        omitted: 3 - entries.length,
        entries,
      };
    },
    onBuildsAvoided(count) {
      avoided += count;
    },
    async readStep(taskId, step, schema) {
      const value = steps.get(`${taskId}.${step}`);
      return value === undefined ? undefined : schema.parse(value);
    },
    async writeStep(taskId, step, value) {
      steps.set(`${taskId}.${step}`, structuredClone(value));
    },
    costOf: () => 0,
    now: () => new Date(),
    logger: createLogger({ service: "test", level: "error" }),
    defaults: { rounds: 3, tokens: 1_000_000, costUsd: 5, wallMs: 60_000, executorSteps: 10 },
  };
  return {
    manager: queues.wrap(createManager(deps)),
    performed,
    planInputs,
    catalogRequests,
    avoided: () => avoided,
  };
}

describe("build avoidance", () => {
  it("puts a covering library tool before the model again and counts the build it avoids", async () => {
    const requested = request("fetch_text_url", "Fetch the readable text of a web page given its URL.", [
      "url",
    ]);
    const f = manager(
      [
        {
          required_tool_names: ["search_web"],
          tool_usage_guidance: "search, then fetch",
          tool_requests: [requested],
        },
        {
          required_tool_names: ["search_web", "fetch_url_text"],
          tool_usage_guidance: "search_web, then fetch_url_text",
          tool_requests: [],
        },
      ],
      [fetchUrlText],
    );
    const { taskId } = await f.manager.submit({ question: "Who won?" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(f.planInputs).toHaveLength(2);
    expect(f.planInputs[0]?.catalog?.entries.map((entry) => entry.name)).toEqual(["search_web"]);
    expect(f.planInputs[1]?.libraryMatches).toEqual([
      { request: "fetch_text_url", tool: "fetch_url_text", strong: true },
    ]);
    expect(f.planInputs[1]?.candidates.map((candidate) => candidate.name)).toEqual(["fetch_url_text"]);
    // The replan's catalog is asked with the request as a capability: its neighbourhood is shown.
    expect(f.catalogRequests).toHaveLength(2);
    expect(f.catalogRequests[0]?.capabilities).toBeUndefined();
    expect(f.catalogRequests[1]).toMatchObject({
      query: "Who won?",
      capabilities: [capabilityOf(requested)],
      exclude: ["fetch_url_text"],
    });
    expect(f.planInputs[1]?.catalog?.entries.map((entry) => entry.name)).toEqual([
      "extract_page_text",
      "search_web",
    ]);
    expect(f.avoided()).toBe(1);
    // Nothing is built; the catalog tool and the library tool are bound with their versions.
    expect(f.performed.some((effect) => effect.type === "build")).toBe(false);
    const execute = f.performed.find((effect) => effect.type === "execute");
    expect(execute?.type === "execute" && execute.payload.tools).toEqual([
      { name: "search_web", version: "sha256:search_web" },
      { name: "fetch_url_text", version: "sha256:fetch_url_text" },
    ]);
  });

  it("builds when the model keeps its request after seeing the library tool, and counts nothing", async () => {
    const requested = request("get_webpage_content", "Returns the text content of a web page.", ["url"]);
    const keep: Plan = { required_tool_names: [], tool_usage_guidance: "fetch", tool_requests: [requested] };
    const f = manager([keep, keep], [fetchUrlText]);
    const { taskId } = await f.manager.submit({ question: "Who won?" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(f.planInputs[1]?.libraryMatches?.[0]).toMatchObject({ tool: "fetch_url_text", strong: false });
    expect(f.avoided()).toBe(0);
    expect(f.performed.some((effect) => effect.type === "build")).toBe(true);
  });

  it("asks the model once when no library tool covers the request", async () => {
    const requested = request("solve_sudoku", "Solves a sudoku grid.", ["grid"]);
    const f = manager(
      [{ required_tool_names: [], tool_usage_guidance: "solve", tool_requests: [requested] }],
      [fetchUrlText, dateDifference],
    );
    const { taskId } = await f.manager.submit({ question: "Solve this" });
    await f.manager.handleWork({ taskId, kind: "start", step: "start" });
    expect(f.planInputs).toHaveLength(1);
    expect(f.performed.some((effect) => effect.type === "build")).toBe(true);
  });
});
