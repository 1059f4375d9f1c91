import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ExecutorRunWork, Payload } from "@insitu/contracts";
import { createScriptedModel } from "@insitu/llm/testing";
import type { ToolOutcome } from "@insitu/tool-kit";
import { describe, expect, it } from "vitest";
import { InlineBudget, type WorkspaceReader, showFilesOf, withWorkspaceReport } from "./files.js";
import { type ReactDeps, runReact } from "./react.js";

const png = readFileSync(
  fileURLToPath(new URL("../../../test/fixtures/files/red-square.png", import.meta.url)),
);
const pdf = readFileSync(fileURLToPath(new URL("../../../test/fixtures/files/memo.pdf", import.meta.url)));

/** FAKE workspace for unit tests: files from a map. */
function workspace(files: Record<string, { mediaType: string; bytes: Uint8Array }>): WorkspaceReader {
  return {
    async readPath(_taskId, path) {
      const file = files[path];
      return file
        ? { entry: { mediaType: file.mediaType, size: file.bytes.byteLength }, bytes: file.bytes }
        : undefined;
    },
  };
}

const work: Payload<typeof ExecutorRunWork> = {
  taskId: "t1",
  round: 1,
  step: "r1.execute",
  question: "What colour is the square?",
  tools: [{ name: "draw_chart", version: "sha256:v1" }],
  guidance: "",
  maxSteps: 3,
  attachments: [
    { name: "square.png", mediaType: "image/png", size: png.byteLength, digest: "sha256:a" },
    { name: "memo.pdf", mediaType: "application/pdf", size: pdf.byteLength, digest: "sha256:b" },
    { name: "towns.csv", mediaType: "text/csv", size: 60, digest: "sha256:c" },
  ],
};

function deps(
  model: ReactDeps["model"],
  outcome: ToolOutcome,
  overrides: Partial<ReactDeps> = {},
): ReactDeps {
  return {
    model,
    summarizer: model,
    async getTool(ref) {
      return {
        manifest: {
          name: ref.name,
          description: "Draws a chart into the workspace.",
          inputSchema: { type: "object" },
          outputSchema: {},
          permissions: { network: [], secrets: [], files: "task" },
        },
        version: "v",
        codeHash: "",
        grantedSecrets: [],
      };
    },
    exec: async () => outcome,
    recordUsage: async () => {},
    repair: async () => ({
      ok: false,
      attempts: 0,
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, toolCalls: 0 },
    }),
    emit: async () => {},
    costOf: () => 0,
    now: () => new Date(),
    limits: { contextTokens: 100_000, maxToolOutputChars: 4000, maxRepairsPerTool: 0 },
    workspace: workspace({
      "square.png": { mediaType: "image/png", bytes: png },
      "memo.pdf": { mediaType: "application/pdf", bytes: pdf },
      "chart.png": { mediaType: "image/png", bytes: png },
      "towns.csv": { mediaType: "text/csv", bytes: new Uint8Array(60) },
    }),
    ...overrides,
  };
}

describe("files for the model (FAKE model and workspace)", () => {
  it("lists the attachments and sends images and PDFs inline; a tool's image follows its result", async () => {
    const model = createScriptedModel([
      { toolCalls: [{ name: "draw_chart", arguments: {} }] },
      "## Final Conclusion\nred",
    ]);
    const outcome: ToolOutcome = {
      status: "ok",
      output: { show_files: ["chart.png", "towns.csv", "nope.png"] },
      durationMs: 1,
      workspace: {
        saved: [{ path: "chart.png", size: png.byteLength, mediaType: "image/png" }],
        refused: [],
      },
    };
    await runReact(work, deps(model, outcome));
    const [first, second] = model.calls;
    const opening = first?.messages[0];
    expect(opening?.role).toBe("user");
    if (opening?.role !== "user") return;
    expect(opening.content).toContain("- square.png (image/png, 74 B)");
    expect(opening.content).toContain("- towns.csv (text/csv, 60 B)");
    expect(opening.files?.map((file) => [file.name, file.mediaType])).toEqual([
      ["square.png", "image/png"],
      ["memo.pdf", "application/pdf"],
    ]);
    expect(Buffer.from(opening.files?.[0]?.data ?? "", "base64").equals(png)).toBe(true);
    const messages = second?.messages ?? [];
    const toolMessage = messages.find((message) => message.role === "tool");
    expect(JSON.stringify(toolMessage)).toContain(
      '"workspace_files":{"saved":["chart.png (image/png, 74 B)"]}',
    );
    const shown = messages.at(-1);
    expect(shown?.role).toBe("user");
    if (shown?.role !== "user") return;
    expect(shown.files?.map((file) => file.name)).toEqual(["chart.png"]);
    expect(shown.content).toContain("towns.csv: text/csv is not an image or PDF");
    expect(shown.content).toContain("nope.png: no such file");
  });

  it("stops inlining when the budget is spent and says so", async () => {
    const model = createScriptedModel(["## Final Conclusion\nno"]);
    await runReact(
      { ...work, tools: [] },
      deps(model, { status: "ok", output: {}, durationMs: 1 }, { inlineBudgetBytes: png.byteLength }),
    );
    const opening = model.calls[0]?.messages[0];
    if (opening?.role !== "user") throw new Error("no opening message");
    expect(opening.files?.map((file) => file.name)).toEqual(["square.png"]);
    expect(opening.content).toContain("memo.pdf: not shown, the task's inline file budget is spent");
  });

  it("helpers: show_files, the workspace report, the budget", () => {
    expect(showFilesOf({ show_files: ["a.png", 3, "b.png"] })).toEqual(["a.png", "b.png"]);
    expect(showFilesOf(["a.png"])).toEqual([]);
    expect(
      withWorkspaceReport(7, {
        status: "ok",
        output: 7,
        durationMs: 1,
        workspace: { saved: [], refused: [], error: "too many files" },
      }),
    ).toEqual({ output: 7, workspace_files: { saved: [], error: "too many files" } });
    expect(withWorkspaceReport({ a: 1 }, { status: "ok", output: { a: 1 }, durationMs: 1 })).toEqual({
      a: 1,
    });
    const budget = new InlineBudget(10);
    expect([budget.take(6), budget.take(6), budget.take(4)]).toEqual([true, false, true]);
  });
});
