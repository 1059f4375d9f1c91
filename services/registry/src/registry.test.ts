import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "@insitu/bus";
import { createMemoryBus } from "@insitu/bus/testing";
import {
  RegistryAbsorb,
  RegistryDiff,
  RegistryFinishTask,
  RegistryGet,
  RegistryHistory,
  RegistryList,
  RegistryRecordUsage,
  RegistryRegister,
  RegistryRollback,
  RegistrySearch,
  RegistrySnapshots,
  RegistryStats,
} from "@insitu/contracts";
import { createLogger, createMetricsRegistry } from "@insitu/telemetry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registryEndpoints } from "./endpoints.js";
import { exportLibrary, importLibrary } from "./export.js";
import { registerRegistryMetrics } from "./metrics.js";
import { Registry } from "./registry.js";
import { HashingEmbedder } from "./retrieval/embedding.js";
import { registerRequest, signedUsage, testTrust, withTestReport, rejection } from "./testing.js";

// Unit tests run on the in-memory bus from @insitu/bus/testing (a fake of NATS KV / Object Store
// / request-reply); the same behaviour is checked against a real nats-server in registry.int.test.ts.
const logger = createLogger({ service: "registry-test", level: "error" });

async function start(bus: Bus, options: { hashing?: boolean } = {}) {
  const registry = await Registry.open(bus, {
    trust: testTrust,
    logger,
    ...(options.hashing ? { embeddings: new HashingEmbedder(64) } : {}),
  });
  const served = await bus.serve({
    name: "registry",
    version: "0.1.0",
    description: "registry under test",
    endpoints: registryEndpoints(registry),
  });
  return { registry, served };
}

let call = 0;
const usage = (
  taskId: string,
  hash: string,
  outcome: "success" | "execution-failure" | "input-error" = "success",
) => ({
  callId: `call-${++call}`,
  taskId,
  hash,
  outcome,
  latencyMs: 12,
});

describe("registry on the in-memory bus", () => {
  let bus: Bus;
  let registry: Registry;

  beforeEach(async () => {
    bus = createMemoryBus();
    ({ registry } = await start(bus));
  });
  afterEach(() => registry.stop());

  it("keeps a registered version private to its task until the task finishes", async () => {
    const registered = await bus.request(
      RegistryRegister,
      registerRequest(
        "task-a",
        "convert_currency",
        "Converts an amount between two currencies at today's rate.",
        {
          parameters: ["amount", "from", "to"],
        },
      ),
    );
    expect(registered).toMatchObject({ name: "convert_currency", created: true, status: "task-private" });
    const again = await bus.request(
      RegistryRegister,
      registerRequest(
        "task-a",
        "convert_currency",
        "Converts an amount between two currencies at today's rate.",
        {
          parameters: ["amount", "from", "to"],
        },
      ),
    );
    expect(again).toMatchObject({ hash: registered.hash, created: false });

    const own = await bus.request(RegistryGet, { by: "name", name: "convert_currency", taskId: "task-a" });
    expect(own.hash).toBe(registered.hash);
    expect(own.code).toContain("export default async function run");
    expect((await rejection(bus.request(RegistryGet, { by: "name", name: "convert_currency" }))).code).toBe(
      "NOT_FOUND",
    );
    expect(
      (await bus.request(RegistrySearch, { query: "convert money currency", taskId: "task-a" })).hits.map(
        (hit) => hit.name,
      ),
    ).toEqual(["convert_currency"]);
    expect(
      (await bus.request(RegistrySearch, { query: "convert money currency", taskId: "task-b" })).hits,
    ).toEqual([]);

    const used = await bus.request(RegistryRecordUsage, signedUsage([usage("task-a", registered.hash)]));
    expect(used).toEqual({ recorded: 1, duplicates: [] });
    const finished = await bus.request(RegistryFinishTask, { taskId: "task-a" });
    expect(finished.absorbed).toEqual([{ name: "convert_currency", hash: registered.hash }]);
    expect(finished.snapshot).toMatchObject({ number: 1, kind: "finish-task", size: 1 });
    const library = await bus.request(RegistryList, {});
    expect(library.tools.map((tool) => [tool.name, tool.status])).toEqual([["convert_currency", "library"]]);
    expect((await bus.request(RegistrySearch, { query: "currency conversion" })).hits[0]?.source).toBe(
      "library",
    );
  });

  it("drops versions that never succeeded and offers conflicting ones instead of overwriting", async () => {
    const good = await bus.request(
      RegistryRegister,
      registerRequest("t1", "parse_csv", "Parses CSV text into rows of cells."),
    );
    const bad = await bus.request(
      RegistryRegister,
      registerRequest("t1", "fetch_weather", "Current temperature in a city.", { parameters: ["city"] }),
    );
    await bus.request(
      RegistryRecordUsage,
      signedUsage([usage("t1", good.hash), usage("t1", bad.hash, "execution-failure")]),
    );
    const first = await bus.request(RegistryFinishTask, { taskId: "t1" });
    expect(first.dropped).toEqual([{ name: "fetch_weather", hash: bad.hash }]);
    expect(first.absorbed.map((tool) => tool.name)).toEqual(["parse_csv"]);
    expect((await bus.request(RegistryGet, { by: "hash", hash: bad.hash })).status).toBe("dropped");
    // Finishing twice answers the same and commits nothing new.
    expect(await bus.request(RegistryFinishTask, { taskId: "t1" })).toMatchObject({
      absorbed: first.absorbed,
    });
    expect((await bus.request(RegistrySnapshots, {})).current).toBe(1);
    expect(
      (
        await rejection(
          bus.request(RegistryRegister, registerRequest("t1", "add_more", "Too late for this.")),
        )
      ).code,
    ).toBe("POOL_FINISHED");

    // Another task writes its own parse_csv (not a repair): offered, library untouched.
    const rival = await bus.request(
      RegistryRegister,
      registerRequest("t2", "parse_csv", "Parses CSV text into rows.", { variant: "rival" }),
    );
    await bus.request(RegistryRecordUsage, signedUsage([usage("t2", rival.hash)]));
    const second = await bus.request(RegistryFinishTask, { taskId: "t2" });
    expect(second.offered).toEqual([{ name: "parse_csv", hash: rival.hash }]);
    expect(second.snapshot).toBeUndefined();
    expect(
      (await bus.request(RegistryList, { scope: "status", status: "offered" })).tools.map(
        (tool) => tool.hash,
      ),
    ).toEqual([rival.hash]);

    // A repair (parent = the library version) replaces it.
    const repair = await bus.request(
      RegistryRegister,
      registerRequest("t3", "parse_csv", "Parses CSV text into rows of cells, quoted fields too.", {
        variant: "repair",
        parents: [good.hash],
      }),
    );
    await bus.request(RegistryRecordUsage, signedUsage([usage("t3", repair.hash)]));
    const third = await bus.request(RegistryFinishTask, { taskId: "t3" });
    expect(third.snapshot?.changes).toEqual([
      { op: "replace", name: "parse_csv", hash: repair.hash, previous: good.hash },
    ]);
    expect((await bus.request(RegistryGet, { by: "hash", hash: good.hash })).status).toBe("deprecated");
    expect((await bus.request(RegistryGet, { by: "ordinal", name: "parse_csv", ordinal: 3 })).hash).toBe(
      repair.hash,
    );
  });

  it("a merge puts the merged version in, makes member names aliases of it, and records merged-into", async () => {
    const words = await bus.request(RegistryRegister, registerRequest("m1", "count_words", "Counts words."));
    const tokens = await bus.request(
      RegistryRegister,
      registerRequest("m2", "count_tokens", "Counts whitespace-separated tokens."),
    );
    await bus.request(RegistryRecordUsage, signedUsage([usage("m1", words.hash), usage("m2", tokens.hash)]));
    await bus.request(RegistryFinishTask, { taskId: "m1" });
    const before = await bus.request(RegistryFinishTask, { taskId: "m2" });
    const base = before.snapshot?.number ?? 0;
    // Not a parent of the merged version: refused, nothing committed.
    const stranger = await bus.request(
      RegistryRegister,
      registerRequest("evolve-x", "count_text_units", "Counts words in a text.", { variant: "no parents" }),
    );
    expect(
      (
        await rejection(
          bus.request(RegistryAbsorb, {
            expectedSnapshot: base,
            reason: "bad merge",
            changes: [{ op: "merge", hash: stranger.hash, members: [words.hash] }],
          }),
        )
      ).code,
    ).toBe("INVALID_LIBRARY_CHANGE");
    const merged = await bus.request(RegistryRegister, {
      ...registerRequest("evolve-x", "count_text_units", "Counts words or tokens in a text.", {
        parents: [words.hash, tokens.hash],
      }),
      origin: "merged",
    });
    const snapshot = await bus.request(RegistryAbsorb, {
      expectedSnapshot: base,
      reason: "evolver barrier x",
      changes: [{ op: "merge", hash: merged.hash, members: [words.hash, tokens.hash] }],
    });
    expect(snapshot.size).toBe(1);
    expect(snapshot.changes.map((change) => [change.op, change.name])).toEqual([
      ["merge", "count_text_units"],
      ["alias", "count_words"],
      ["alias", "count_tokens"],
    ]);
    // Old names answer the merged tool; the library lists only the merged one.
    expect((await bus.request(RegistryGet, { by: "name", name: "count_words" })).hash).toBe(merged.hash);
    expect((await bus.request(RegistryGet, { by: "name", name: "count_tokens" })).hash).toBe(merged.hash);
    expect((await bus.request(RegistryList, {})).tools.map((tool) => tool.name)).toEqual([
      "count_text_units",
    ]);
    const member = await bus.request(RegistryGet, { by: "hash", hash: words.hash });
    expect(member).toMatchObject({ status: "deprecated", mergedInto: merged.hash });
    // The alias survives later commits and a rollback to before the merge removes it.
    const later = await bus.request(RegistryRegister, registerRequest("m3", "parse_csv", "Parses CSV."));
    await bus.request(RegistryRecordUsage, signedUsage([usage("m3", later.hash)]));
    const third = await bus.request(RegistryFinishTask, { taskId: "m3" });
    expect((await bus.request(RegistryGet, { by: "name", name: "count_words" })).hash).toBe(merged.hash);
    await bus.request(RegistryRollback, {
      to: base,
      expectedSnapshot: third.snapshot?.number ?? 0,
      reason: "undo",
    });
    expect((await bus.request(RegistryGet, { by: "name", name: "count_words" })).hash).toBe(words.hash);
  });

  it("a version rolled out of the library and built again by a later task is offered again", async () => {
    // Its own registry with a clock that moves a second per reading, so "offered after it left
    // the library" is never a tie.
    registry.stop();
    let tick = Date.parse("2026-01-01T00:00:00Z");
    const clock = (): Date => {
      tick += 1000;
      return new Date(tick);
    };
    const clocked = await Registry.open(bus, { trust: testTrust, logger, now: clock });
    const served = await bus.serve({
      name: "registry",
      version: "0.1.0",
      description: "registry under test",
      endpoints: registryEndpoints(clocked),
    });
    try {
      const first = await bus.request(
        RegistryRegister,
        registerRequest("t1", "count_words", "Counts words."),
      );
      await bus.request(RegistryRecordUsage, signedUsage([usage("t1", first.hash)]));
      await bus.request(RegistryFinishTask, { taskId: "t1", mode: "offer" });
      expect((await bus.request(RegistryGet, { by: "hash", hash: first.hash })).status).toBe("offered");
      await bus.request(RegistryAbsorb, {
        expectedSnapshot: 0,
        changes: [{ op: "add", hash: first.hash }],
        reason: "barrier 1",
      });
      await bus.request(RegistryRollback, { to: 0, expectedSnapshot: 1, reason: "start from zero" });
      // Rolled out: the old offer does not bring it back.
      expect((await bus.request(RegistryGet, { by: "hash", hash: first.hash })).status).toBe("deprecated");
      const offeredNow = async () =>
        (await bus.request(RegistryList, { scope: "status", status: "offered" })).tools.map(
          (tool) => tool.hash,
        );
      expect(await offeredNow()).toEqual([]);

      // A later task builds the very same tool (same content, same hash) and offers it.
      const again = await bus.request(
        RegistryRegister,
        registerRequest("t2", "count_words", "Counts words."),
      );
      expect(again).toMatchObject({ hash: first.hash, created: false });
      await bus.request(RegistryRecordUsage, signedUsage([usage("t2", again.hash)]));
      await bus.request(RegistryFinishTask, { taskId: "t2", mode: "offer" });
      expect((await bus.request(RegistryGet, { by: "hash", hash: first.hash })).status).toBe("offered");
      expect(await offeredNow()).toEqual([first.hash]);
    } finally {
      await served.stop();
      clocked.stop();
      ({ registry } = await start(bus));
    }
  });

  it("commits absorbs with compare-and-set, diffs, and rolls back as a new snapshot", async () => {
    const a = await bus.request(
      RegistryRegister,
      registerRequest("t", "count_words", "Counts words in a text."),
    );
    const b = await bus.request(
      RegistryRegister,
      registerRequest("t", "slugify_title", "Turns a title into a URL slug."),
    );
    const s1 = await bus.request(RegistryAbsorb, {
      expectedSnapshot: 0,
      changes: [
        { op: "add", hash: a.hash },
        { op: "add", hash: b.hash },
      ],
      reason: "batch 1",
    });
    expect(s1).toMatchObject({ number: 1, size: 2, changeCount: 2 });

    const stale = await rejection(
      bus.request(RegistryAbsorb, {
        expectedSnapshot: 0,
        changes: [{ op: "deprecate", name: "count_words" }],
        reason: "x",
      }),
    );
    expect(stale).toMatchObject({ code: "SNAPSHOT_CONFLICT", retryable: true, details: { current: 1 } });
    const invalid = await rejection(
      bus.request(RegistryAbsorb, {
        expectedSnapshot: 1,
        changes: [{ op: "add", hash: a.hash }],
        reason: "dup",
      }),
    );
    expect(invalid.code).toBe("INVALID_LIBRARY_CHANGE");
    // All or nothing: a bad second change leaves the library at snapshot 1.
    await rejection(
      bus.request(RegistryAbsorb, {
        expectedSnapshot: 1,
        changes: [
          { op: "deprecate", name: "slugify_title" },
          { op: "deprecate", name: "no_such_tool" },
        ],
        reason: "half bad",
      }),
    );
    expect((await bus.request(RegistryList, {})).total).toBe(2);

    const fixed = await bus.request(
      RegistryRegister,
      registerRequest("t", "count_words", "Counts words in a text, unicode aware.", {
        variant: "v2",
        parents: [a.hash],
      }),
    );
    const s2 = await bus.request(RegistryAbsorb, {
      expectedSnapshot: 1,
      changes: [
        { op: "replace", hash: fixed.hash, expected: a.hash },
        { op: "deprecate", name: "slugify_title", reason: "unused" },
      ],
      reason: "batch 2",
    });
    expect(s2).toMatchObject({ number: 2, size: 1 });
    expect(await bus.request(RegistryDiff, { from: 1 })).toEqual({
      from: 1,
      to: 2,
      added: [],
      removed: [{ name: "slugify_title", hash: b.hash }],
      changed: [{ name: "count_words", from: a.hash, to: fixed.hash }],
      unchanged: 0,
    });

    const s3 = await bus.request(RegistryRollback, { to: 1, expectedSnapshot: 2, reason: "v2 broke things" });
    expect(s3).toMatchObject({ number: 3, kind: "rollback", rollbackTo: 1, size: 2 });
    expect((await bus.request(RegistryDiff, { from: 1, to: 3 })).unchanged).toBe(2);
    expect((await bus.request(RegistryGet, { by: "name", name: "count_words" })).hash).toBe(a.hash);
    expect((await bus.request(RegistryGet, { by: "name", name: "count_words", snapshot: 2 })).hash).toBe(
      fixed.hash,
    );
    expect((await bus.request(RegistryGet, { by: "hash", hash: fixed.hash })).status).toBe("deprecated");

    const history = await bus.request(RegistryHistory, { name: "count_words" });
    expect(history.current).toBe(a.hash);
    expect(history.versions.map((version) => [version.ordinal, version.hash, version.parents])).toEqual([
      [1, a.hash, []],
      [2, fixed.hash, [a.hash]],
    ]);
    expect(history.events.map((event) => [event.snapshot, event.change.op])).toEqual([
      [1, "add"],
      [2, "replace"],
      [3, "restore"],
    ]);
    expect((await bus.request(RegistrySnapshots, { limit: 2 })).snapshots.map((info) => info.number)).toEqual(
      [3, 2],
    );
  });

  it("aggregates usage per version and per name, counts each call once, and derives EGL and reuse", async () => {
    const tool = await bus.request(
      RegistryRegister,
      registerRequest("creator", "sum_numbers", "Adds numbers together."),
    );
    await bus.request(RegistryRecordUsage, signedUsage([usage("creator", tool.hash)]));
    await bus.request(RegistryFinishTask, { taskId: "creator" });
    const calls = [
      usage("reuser-1", tool.hash),
      usage("reuser-1", tool.hash, "input-error"),
      usage("reuser-2", tool.hash),
    ];
    expect(await bus.request(RegistryRecordUsage, signedUsage(calls))).toMatchObject({ recorded: 3 });
    expect(await bus.request(RegistryRecordUsage, signedUsage([calls[0]!]))).toEqual({
      recorded: 0,
      duplicates: [calls[0]!.callId],
    });
    const stats = await bus.request(RegistryStats, { name: "sum_numbers" });
    expect(stats.tool).toMatchObject({ calls: 4, successes: 3, reuseCalls: 3, tasks: 3, meanLatencyMs: 12 });
    expect(stats.tool?.byOutcome).toEqual({ success: 3, "input-error": 1 });
    expect(stats.global).toMatchObject({
      librarySize: 1,
      toolsCreated: 1,
      toolCalls: 4,
      egl: 0.25,
      successRate: 0.75,
      reuseRate: 0.75,
      tasksSeen: 3,
      topTools: [{ name: "sum_numbers", calls: 4 }],
    });

    const metrics = createMetricsRegistry("registry", { defaultMetrics: false });
    registerRegistryMetrics(metrics, registry, 5);
    const text = await metrics.metrics();
    expect(text).toContain('insitu_tool_calls_total{outcome="success",service="registry"} 3');
    expect(text).toContain('insitu_egl_ratio{service="registry"} 0.25');
    expect(text).toContain('insitu_tool_reuse_ratio{service="registry"} 0.75');
    expect(text).toContain('insitu_tools_created_total{service="registry"} 1');
    expect(text).toContain('insitu_tasks_seen_total{service="registry"} 3');
    expect(text).toContain('insitu_library_tools{service="registry"} 1');
    expect(text).toContain('insitu_library_snapshot{service="registry"} 1');
    expect(text).toContain('insitu_top_tool_calls{tool="sum_numbers",service="registry"} 4');
  });

  it("keeps at most top-N tool labels on the metrics", async () => {
    const hashes: string[] = [];
    for (let index = 0; index < 8; index++) {
      const name = `tool_n${index}`;
      const tool = await bus.request(
        RegistryRegister,
        registerRequest("t", name, `Tool number ${index} does a thing.`),
      );
      hashes.push(tool.hash);
      await bus.request(
        RegistryRecordUsage,
        signedUsage(Array.from({ length: index + 1 }, () => usage("t", tool.hash))),
      );
    }
    const metrics = createMetricsRegistry("registry", { defaultMetrics: false });
    registerRegistryMetrics(metrics, registry, 3);
    const lines = (await metrics.metrics())
      .split("\n")
      .filter((line) => line.startsWith("insitu_top_tool_calls{"));
    expect(lines).toEqual([
      'insitu_top_tool_calls{tool="tool_n7",service="registry"} 8',
      'insitu_top_tool_calls{tool="tool_n6",service="registry"} 7',
      'insitu_top_tool_calls{tool="tool_n5",service="registry"} 6',
    ]);
  });

  it("a task's own repair shadows the library version in its searches only", async () => {
    const original = await bus.request(
      RegistryRegister,
      registerRequest("t1", "parse_csv", "Parses CSV text into rows."),
    );
    await bus.request(RegistryAbsorb, {
      expectedSnapshot: 0,
      changes: [{ op: "add", hash: original.hash }],
      reason: "r",
    });
    const repair = await bus.request(
      RegistryRegister,
      registerRequest("t2", "parse_csv", "Parses CSV text into rows, quoted fields too.", {
        variant: "repair",
        parents: [original.hash],
      }),
    );
    const mine = await bus.request(RegistrySearch, { query: "parse csv rows", taskId: "t2" });
    expect(mine.hits.map((hit) => [hit.hash, hit.source])).toEqual([[repair.hash, "pool"]]);
    const others = await bus.request(RegistrySearch, { query: "parse csv rows", taskId: "t3" });
    expect(others.hits.map((hit) => [hit.hash, hit.source])).toEqual([[original.hash, "library"]]);
    expect((await bus.request(RegistryGet, { by: "name", name: "parse_csv", taskId: "t2" })).hash).toBe(
      repair.hash,
    );
    expect((await bus.request(RegistryGet, { by: "name", name: "parse_csv", taskId: "t3" })).hash).toBe(
      original.hash,
    );
  });

  it("keeps large code and tests in the object store and serves them back intact", async () => {
    const plain = registerRequest("t", "render_report", "Renders a long report template.");
    const request = withTestReport({ ...plain, code: `${plain.code}\n// ${"padding ".repeat(20_000)}\n` });
    const registered = await bus.request(RegistryRegister, request);
    const stored = await (await bus.kv("registry")).get<{ code?: string; body?: string }>(
      `version.${registered.hash.slice(7)}`,
    );
    expect(stored?.value.code).toBeUndefined();
    expect(stored?.value.body).toBe(`version-${registered.hash.slice(7)}`);
    const record = await bus.request(RegistryGet, { by: "hash", hash: registered.hash });
    expect(record.code).toBe(request.code);
    expect(record.tests).toEqual(request.tests);
  });

  it("refuses parents that were never registered", async () => {
    const request = registerRequest("t", "trim_text", "Trims a text.", {
      parents: [`sha256:${"0".repeat(64)}`],
    });
    expect((await rejection(bus.request(RegistryRegister, request))).code).toBe("INVALID_TOOL_VERSION");
  });

  it("a second registry on the same store sees every change through the watch", async () => {
    const other = await Registry.open(bus, { trust: testTrust, logger });
    try {
      const tool = await bus.request(
        RegistryRegister,
        registerRequest("t", "split_lines", "Splits text into lines."),
      );
      await bus.request(RegistryAbsorb, {
        expectedSnapshot: 0,
        changes: [{ op: "add", hash: tool.hash }],
        reason: "r",
      });
      await other.view.until(() => other.view.snapshotNumber === 1);
      expect(other.view.currentTools.get("split_lines")).toBe(tool.hash);
      expect(other.view.search.query("split text lines", 5, undefined).map((hit) => hit.name)).toEqual([
        "split_lines",
      ]);
    } finally {
      other.stop();
    }
  });

  it("exports the library as files and imports it into an empty registry, keeping lineage and edits", async () => {
    const a = await bus.request(
      RegistryRegister,
      registerRequest("t", "trim_text", "Trims whitespace around a text."),
    );
    const b = await bus.request(RegistryRegister, registerRequest("t", "upper_case", "Upper-cases a text."));
    await bus.request(RegistryAbsorb, {
      expectedSnapshot: 0,
      changes: [
        { op: "add", hash: a.hash },
        { op: "add", hash: b.hash },
      ],
      reason: "r",
    });
    const directory = await mkdtemp(join(tmpdir(), "registry-export-"));
    try {
      expect(await exportLibrary(registry, directory)).toMatchObject({ snapshot: 1, tools: 2 });
      const lineage = JSON.parse(await readFile(join(directory, "trim_text", "lineage.json"), "utf8"));
      expect(lineage).toMatchObject({ hash: a.hash, createdByTask: "t", origin: "created" });
      expect(await readFile(join(directory, "trim_text", "module.ts"), "utf8")).toContain(
        "export default async function",
      );
      // A reviewer edits one module in git.
      const module = join(directory, "upper_case", "module.ts");
      await writeFile(module, (await readFile(module, "utf8")).replace("first version", "reviewed"));

      const fresh = await Registry.open(createMemoryBus(), { trust: testTrust, logger });
      const imported = await importLibrary(fresh, directory);
      expect(imported).toMatchObject({ tools: 2, created: 2, edited: ["upper_case"] });
      expect(fresh.view.currentTools.get("trim_text")).toBe(a.hash);
      const edited = fresh.view.currentTools.get("upper_case")!;
      expect(edited).not.toBe(b.hash);
      expect(fresh.view.versions.get(edited)?.parents).toEqual([b.hash]);
      expect(fresh.convergence().toolsCreated).toBe(0); // imports are not created tools
      // Importing the same files again changes nothing.
      expect((await importLibrary(fresh, directory)).snapshot).toBeUndefined();

      // A warm start refuses the edited folder before it stores or commits anything.
      const before = fresh.view.snapshotNumber;
      const refused = await importLibrary(fresh, directory, { replace: true, requireUnchanged: true }).catch(
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: "INVALID_EXPORT", category: "user" });
      expect((refused as Error).message).toMatch(/upper_case: .*no longer hash to the recorded version/);
      expect(fresh.view.snapshotNumber).toBe(before);
      // Without the edited tool, `replace` makes the folder the whole library in one snapshot.
      await rm(join(directory, "upper_case"), { recursive: true });
      const library = JSON.parse(await readFile(join(directory, "library.json"), "utf8"));
      delete library.tools.upper_case;
      await writeFile(join(directory, "library.json"), JSON.stringify(library));
      const replaced = await importLibrary(fresh, directory, { replace: true, requireUnchanged: true });
      expect(replaced.snapshot).toMatchObject({ number: before + 1, kind: "import", size: 1 });
      expect([...fresh.view.currentTools.keys()]).toEqual(["trim_text"]);
      // An unreadable folder is a typed error naming what is wrong.
      await writeFile(join(directory, "library.json"), "{not json");
      await expect(importLibrary(fresh, directory)).rejects.toMatchObject({
        code: "INVALID_EXPORT",
        message: expect.stringMatching(/library\.json is not JSON/),
      });
      await expect(importLibrary(fresh, join(directory, "missing"))).rejects.toMatchObject({
        code: "INVALID_EXPORT",
        message: expect.stringMatching(/no such folder/),
      });
      fresh.stop();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe("retrieval", () => {
  it("ranks by name, description and parameters, lexical alone without embeddings", async () => {
    const bus = createMemoryBus();
    const { registry } = await start(bus);
    const tools: [string, string, string[]][] = [
      [
        "convert_currency",
        "Converts an amount of money from one currency to another at the current rate.",
        ["amount", "from_currency", "to_currency"],
      ],
      ["fetch_weather", "Current temperature and conditions for a city.", ["city"]],
      ["parse_csv", "Parses CSV text into rows and columns.", ["csv_text", "delimiter"]],
      ["compute_statistics", "Mean, median and standard deviation of a list of numbers.", ["numbers"]],
      ["search_web", "Searches the web and returns result titles and links.", ["query", "max_results"]],
    ];
    const hashes = [];
    for (const [name, description, parameters] of tools) {
      hashes.push(
        (await bus.request(RegistryRegister, registerRequest("t", name, description, { parameters }))).hash,
      );
    }
    await bus.request(RegistryAbsorb, {
      expectedSnapshot: 0,
      changes: hashes.map((hash) => ({ op: "add" as const, hash })),
      reason: "seed",
    });
    const top = async (query: string) => (await bus.request(RegistrySearch, { query, k: 3 })).hits;
    expect((await top("what is the temperature in Paris today"))[0]?.name).toBe("fetch_weather");
    expect((await top("convert 100 USD to EUR"))[0]?.name).toBe("convert_currency");
    expect((await top("standard deviation of these numbers"))[0]?.name).toBe("compute_statistics");
    expect((await top("rows of a csv file with a semicolon delimiter"))[0]?.name).toBe("parse_csv");
    const result = await bus.request(RegistrySearch, { query: "search the web", k: 2, mode: "hybrid" });
    expect(result.mode).toBe("lexical");
    expect(result.hits[0]).toMatchObject({ name: "search_web", score: 1, source: "library" });
    expect(result.hits[0]?.vectorScore).toBeUndefined();
    registry.stop();
  });

  it("fuses BM25 and vector rankings when an embedding provider is configured", async () => {
    const bus = createMemoryBus();
    const { registry } = await start(bus, { hashing: true });
    const a = await bus.request(
      RegistryRegister,
      registerRequest("t", "convert_currency", "Converts money between currencies."),
    );
    const b = await bus.request(
      RegistryRegister,
      registerRequest("t", "count_words", "Counts the words of a text."),
    );
    await bus.request(RegistryAbsorb, {
      expectedSnapshot: 0,
      changes: [
        { op: "add", hash: a.hash },
        { op: "add", hash: b.hash },
      ],
      reason: "seed",
    });
    expect((await bus.request(RegistryGet, { by: "hash", hash: a.hash })).embeddingModel).toBe(
      "random-indexing-64",
    );
    const result = await bus.request(RegistrySearch, { query: "convert money", k: 2 });
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]).toMatchObject({ name: "convert_currency" });
    expect(result.hits[0]?.vectorScore).toBeGreaterThan(0);
    expect(result.hits[0]?.lexicalScore).toBeGreaterThan(0);
    expect((await bus.request(RegistrySearch, { query: "convert money", mode: "lexical" })).mode).toBe(
      "lexical",
    );
    registry.stop();
  });
});
