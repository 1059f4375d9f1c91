import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type WorkspaceIO, copyWorkspaceIn, copyWorkspaceOut } from "@insitu/files";
import { LimitCeilings, type ToolManifest, type ToolOutcome } from "@insitu/tool-kit";

/**
 * The task workspace around one sandbox call (ADR 0075): for a tool declaring `files: "task"` and a
 * call naming its task, the task's files are copied into the call's work dir before the job is
 * handed over, and new or changed files are saved after the run. A result over the tool's output
 * cap is written to the workspace as a file instead of being refused.
 */
export interface WorkspaceCall {
  io: WorkspaceIO;
  taskId: string;
  tool: string;
}

export function workspaceCallOf(
  manifest: ToolManifest,
  io: WorkspaceIO | undefined,
  workspace: { taskId: string; tool?: string } | undefined,
): WorkspaceCall | undefined {
  if (manifest.permissions.files !== "task" || !io || !workspace) return undefined;
  return { io, taskId: workspace.taskId, tool: workspace.tool ?? manifest.name };
}

/** Bytes a workspace tool's result may have before it is kept as a file (the ceiling, not the cap). */
export const WORKSPACE_RESULT_BYTES = LimitCeilings.outputBytes;

export async function prepareWorkspace(call: WorkspaceCall, workDir: string): Promise<Map<string, string>> {
  return copyWorkspaceIn(call.io, call.taskId, workDir);
}

/**
 * After the run: a result bigger than `outputBytes` goes to `results/<tool>-<n>.json` in the work
 * dir (so it is saved with the other files) and the outcome names it; then new and changed files
 * are saved and reported on the outcome.
 */
export async function finishWorkspace(
  call: WorkspaceCall,
  workDir: string,
  copiedIn: Map<string, string>,
  outcome: ToolOutcome,
  outputBytes: number,
): Promise<ToolOutcome> {
  if (outcome.status !== "ok") return outcome;
  let result = outcome;
  const text = JSON.stringify(outcome.output) ?? "null";
  const size = Buffer.byteLength(text);
  if (size > outputBytes) {
    const path = `results/${call.tool}-${Date.now().toString(36)}.json`;
    await mkdir(join(workDir, "results"), { recursive: true });
    await writeFile(join(workDir, path), text);
    result = {
      ...outcome,
      output: {
        output_file: path,
        bytes: size,
        note: `the result was larger than the tool's ${outputBytes}-byte output cap; it was kept whole in the task workspace as ${path} for a file-reading tool`,
        preview: text.slice(0, Math.min(2000, Math.floor(outputBytes / 2))),
      },
    };
  }
  const report = await copyWorkspaceOut(call.io, call.taskId, workDir, copiedIn, { tool: call.tool });
  return { ...result, workspace: report };
}
