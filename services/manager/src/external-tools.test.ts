import type { ExternalTool } from "@insitu/contracts";
import { describe, expect, it } from "vitest";
import { withExternalTools } from "./external-tools.js";
import { formatCandidates, type ToolCandidate } from "./planner.js";

const external = (name: string, description: string): ExternalTool => ({
  name,
  version: `mcp:files/${name}`,
  server: "files",
  tool: name.replace(/^files_/, ""),
  description,
  inputSchema: { type: "object", properties: { path: { type: "string" } } },
});

describe("withExternalTools (retrieval plus the operator's MCP tools)", () => {
  const library: ToolCandidate[] = [
    {
      name: "count_vowels",
      version: "sha256:x",
      description: "Counts vowels.",
      inputSchema: {},
      source: "library",
    },
  ];
  const search = withExternalTools(
    async () => library,
    async () => [
      external("files_read_file", "Reads a file from the project folder and returns its text."),
      external("files_list_directory", "Lists the entries of a directory."),
      external("count_vowels", "An external tool with a library tool's name."),
    ],
    5,
  );

  it("appends matching external tools, marked, after the library's hits; a library name wins", async () => {
    const candidates = await search({ query: "Read the file notes.md and summarise it", taskId: "t1" });
    expect(candidates.map((candidate) => [candidate.name, candidate.source])).toEqual([
      ["count_vowels", "library"],
      ["files_read_file", "external"],
      ["files_list_directory", "external"],
    ]);
    expect(candidates[1]?.version).toBe("mcp:files/files_read_file");
    expect(formatCandidates(candidates)).toMatch(
      /files_read_file \(external tool from MCP server files, not in the library\)/,
    );
  });

  it("offers nothing external when no word matches, and works with no external tools at all", async () => {
    expect((await search({ query: "vowels in onomatopoeia", taskId: "t2" })).map((c) => c.name)).toEqual([
      "count_vowels",
    ]);
    const none = withExternalTools(
      async () => library,
      async () => [],
      5,
    );
    expect(await none({ query: "read the file", taskId: "t3" })).toEqual(library);
  });
});
