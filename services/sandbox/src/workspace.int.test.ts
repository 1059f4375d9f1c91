import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Bus, type NatsServerHandle, connectBus, startNatsServer } from "@insitu/bus";
import { WorkspaceStore, checkAttachments, storeAttachments } from "@insitu/files";
import type { ToolManifest, ToolOutcome } from "@insitu/tool-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPolicy } from "./policy.js";
import { Sandbox } from "./sandbox.js";

// Task workspaces across two sandbox replicas (two Sandbox instances, each its own work root and
// Deno processes) sharing only JetStream (a real nats-server): what one call writes, a later call
// on the other replica reads — with the vetted CSV, XLSX and PDF readers.

const fixtures = fileURLToPath(new URL("../../../test/fixtures/files/", import.meta.url));
let server: NatsServerHandle;
let bus: Bus;
let store: WorkspaceStore;
let replicaA: Sandbox;
let replicaB: Sandbox;

beforeAll(async () => {
  server = await startNatsServer();
  bus = await connectBus({ url: server.url, prefix: `ws${randomBytes(3).toString("hex")}`, name: "ws-test" });
  store = await WorkspaceStore.open(bus, { retentionMs: 3_600_000 });
  const options = { policy: defaultPolicy(), concurrency: 2, warm: { perProfile: 0 }, workspace: store };
  replicaA = new Sandbox(options);
  replicaB = new Sandbox(options);
});
afterAll(async () => {
  await replicaA?.close();
  await replicaB?.close();
  await bus?.drain();
  await server?.dispose();
});

function manifest(name: string, files = true): ToolManifest {
  return {
    name,
    description: `Workspace test tool ${name}.`,
    inputSchema: { type: "object" },
    outputSchema: {},
    permissions: { network: [], secrets: [], ...(files ? { files: "task" as const } : {}) },
  };
}

function run(
  sandbox: Sandbox,
  taskId: string,
  name: string,
  code: string,
  options: { files?: boolean; input?: unknown } = {},
): Promise<ToolOutcome> {
  return sandbox.exec({
    tool: { code, manifest: manifest(name, options.files ?? true) },
    input: options.input ?? {},
    limits: { timeoutMs: 10_000, memoryMb: 512 },
    workspace: { taskId },
  });
}

async function taskWith(...names: string[]): Promise<string> {
  const taskId = `t-${randomBytes(6).toString("hex")}`;
  const checked = checkAttachments(
    names.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(fixtures, name))) })),
  );
  await storeAttachments(store, taskId, checked);
  return taskId;
}

describe("the task workspace across sandbox replicas", () => {
  it("a file written by a call on one replica is read by a later call on another", async () => {
    const taskId = await taskWith();
    const write = await run(
      replicaA,
      taskId,
      "save_numbers",
      'export default async () => { await Deno.mkdir("data", { recursive: true }); await Deno.writeTextFile("data/n.csv", "n\\n3\\n4\\n5\\n"); return { path: "data/n.csv" }; };',
    );
    expect(write).toMatchObject({
      status: "ok",
      workspace: { saved: [{ path: "data/n.csv", size: 8, mediaType: "text/plain" }], refused: [] },
    });
    const read = await run(
      replicaB,
      taskId,
      "sum_numbers",
      'import Papa from "papaparse"; export default async () => { const rows = Papa.parse(await Deno.readTextFile("data/n.csv"), { header: true, dynamicTyping: true, skipEmptyLines: true }).data; return { sum: rows.reduce((total, row) => total + row.n, 0) }; };',
    );
    expect(read).toMatchObject({ status: "ok", output: { sum: 12 }, workspace: { saved: [] } });
    // A tool that does not declare the workspace works in a scratch dir and sees none of it.
    const scratch = await run(
      replicaB,
      taskId,
      "peek_numbers",
      'export default async () => { try { await Deno.readTextFile("data/n.csv"); return { seen: true }; } catch { return { seen: false }; } };',
      { files: false },
    );
    expect(scratch).toMatchObject({ status: "ok", output: { seen: false } });
    expect(scratch).not.toHaveProperty("workspace");
  });

  it("reads attachments with the vetted CSV, XLSX and PDF readers", async () => {
    const taskId = await taskWith("towns.csv", "towns.xlsx", "memo.pdf");
    const [csv, xlsx, pdf] = await Promise.all([
      run(
        replicaA,
        taskId,
        "read_csv_file",
        'import Papa from "papaparse"; export default async () => ({ rows: Papa.parse(await Deno.readTextFile("towns.csv"), { header: true, dynamicTyping: true, skipEmptyLines: true }).data });',
      ),
      run(
        replicaB,
        taskId,
        "read_sheet_file",
        'import XLSX from "xlsx"; export default async () => { const book = XLSX.read(await Deno.readFile("towns.xlsx"), { type: "array" }); return { sheets: book.SheetNames, rows: XLSX.utils.sheet_to_json(book.Sheets[book.SheetNames[0]]) }; };',
      ),
      run(
        replicaA,
        taskId,
        "read_pdf_file",
        'import { extractText } from "unpdf"; export default async () => { const { text } = await extractText(await Deno.readFile("memo.pdf"), { mergePages: true }); return { text }; };',
      ),
    ]);
    const towns = [
      { city: "Avalon", population: 1200 },
      { city: "Brightwater", population: 3450 },
      { city: "Cinderford", population: 780 },
    ];
    expect(csv, JSON.stringify(csv).slice(0, 400)).toMatchObject({ status: "ok", output: { rows: towns } });
    expect(xlsx, JSON.stringify(xlsx).slice(0, 400)).toMatchObject({
      status: "ok",
      output: { sheets: ["Towns"], rows: towns },
    });
    expect(pdf, JSON.stringify(pdf).slice(0, 400)).toMatchObject({
      status: "ok",
      output: { text: "The vault code is 7391." },
    });
    // Reading changes nothing: no file was saved back.
    for (const outcome of [csv, xlsx, pdf]) expect(outcome).toMatchObject({ workspace: { saved: [] } });
  });

  it("a call writing 9,000 files keeps none of them, keeps its result and loses nothing else", async () => {
    // 9,000: within the work dir's 10,000-entry quota (with the folder and the attachment), which
    // is checked once more when a call ends (ADR 0135) — past it the call is OUTPUT_LIMIT instead.
    const taskId = await taskWith("towns.csv");
    const before = await store.list(taskId);
    const outcome = await run(
      replicaA,
      taskId,
      "spray_files",
      'export default async () => { await Deno.mkdir("spray"); for (let i = 0; i < 9000; i++) Deno.writeTextFileSync("spray/f" + i + ".txt", "x"); return { wrote: 9000 }; };',
    );
    expect(outcome).toMatchObject({ status: "ok", output: { wrote: 9000 } });
    expect(outcome.workspace?.saved).toEqual([]);
    expect(outcome.workspace?.error).toMatch(
      /more than 100 new or changed files.*none of this call's files were kept/,
    );
    expect(await store.list(taskId)).toEqual(before);
    // The task's workspace still works for the next call.
    const next = await run(
      replicaB,
      taskId,
      "count_lines",
      'export default async () => ({ lines: (await Deno.readTextFile("towns.csv")).trim().split("\\n").length });',
    );
    expect(next).toMatchObject({ status: "ok", output: { lines: 4 } });
  });

  it("refuses badly named files one by one and cannot be led out of its work dir", async () => {
    const taskId = await taskWith();
    const outcome = await run(
      replicaA,
      taskId,
      "name_files",
      'export default async () => { Deno.writeTextFileSync("CON.txt", "a"); Deno.writeTextFileSync(".hidden", "b"); Deno.writeTextFileSync("good.txt", "c"); Deno.writeTextFileSync("empty.txt", ""); let escaped = false; try { Deno.writeTextFileSync("../escape.txt", "d"); escaped = true; } catch {} return { escaped }; };',
    );
    expect(outcome).toMatchObject({ status: "ok", output: { escaped: false } });
    expect(outcome.workspace?.saved.map((file) => file.path)).toEqual(["good.txt"]);
    expect(outcome.workspace?.refused.map((file) => [file.path, file.reason]).sort()).toEqual([
      [".hidden", expect.stringMatching(/starts with a dot/)],
      ["CON.txt", expect.stringMatching(/reserved device name/)],
      ["empty.txt", expect.stringMatching(/empty/)],
    ]);
    expect((await store.list(taskId)).map((entry) => entry.path)).toEqual(["good.txt"]);
  });

  it("a result over the output cap is kept whole as a workspace file the next call can read", async () => {
    const taskId = await taskWith();
    const big = await replicaA.exec({
      tool: {
        code: "export default async () => ({ items: Array.from({ length: 3000 }, (_, i) => ({ i, label: 'item-' + i })) });",
        manifest: manifest("list_items"),
      },
      input: {},
      limits: { timeoutMs: 10_000, memoryMb: 512, outputBytes: 4096 },
      workspace: { taskId },
    });
    expect(big.status).toBe("ok");
    const output = (big as { output: { output_file: string; bytes: number } }).output;
    expect(output.output_file).toMatch(/^results\/list_items-[a-z0-9]+\.json$/);
    expect(output.bytes).toBeGreaterThan(4096);
    expect(big.workspace?.saved.map((file) => file.path)).toEqual([output.output_file]);
    const reread = await run(
      replicaB,
      taskId,
      "count_items",
      "export default async (input) => ({ count: JSON.parse(await Deno.readTextFile(input.path)).items.length });",
      { input: { path: output.output_file } },
    );
    expect(reread).toMatchObject({ status: "ok", output: { count: 3000 } });
    // Without the workspace the same cap is still a hard OUTPUT_LIMIT.
    const capped = await replicaA.exec({
      tool: {
        code: "export default async () => ({ items: Array.from({ length: 3000 }, (_, i) => ({ i })) });",
        manifest: manifest("list_items", false),
      },
      input: {},
      limits: { timeoutMs: 10_000, memoryMb: 512, outputBytes: 4096 },
    });
    expect(capped).toMatchObject({ status: "OUTPUT_LIMIT" });
  });
});
