// A sandbox request's tool as the sandbox runs it: a draft's code as sent, a registered tool's
// code from the cache or once from the registry, checked against its hash (docs/adr/0160).
import type { Payload, SandboxExec } from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { type ToolManifest, computeCodeHash } from "@insitu/tool-kit";
import type { CodeCache } from "./code-cache.js";

export type RequestedTool = Payload<typeof SandboxExec>["tool"];
export interface ResolvedTool {
  code: string;
  manifest: ToolManifest;
  /** The version's content hash, when it has one (egress log, caches). */
  hash?: string;
}

/** Fetches a version's code from the registry (`registry.code.get`). */
export type FetchCode = (version: string, codeHash: string) => Promise<string>;

export type ResolveTool = (tool: RequestedTool) => Promise<ResolvedTool>;

export function toolResolver(cache: CodeCache, fetchCode: FetchCode): ResolveTool {
  // Concurrent misses on one hash share one fetch.
  const inFlight = new Map<string, Promise<string>>();
  const codeOf = async (version: string, codeHash: string): Promise<string> => {
    const cached = cache.get(codeHash);
    if (cached !== undefined) return cached;
    let pending = inFlight.get(codeHash);
    if (!pending) {
      pending = fetchCode(version, codeHash)
        .then((code) => {
          const actual = computeCodeHash(code);
          if (actual !== codeHash) {
            throw new InsituError(`the code fetched for ${version} does not hash to ${codeHash}`, {
              code: ErrorCode.toolCodeHashMismatch,
              category: ErrorCategory.system,
              details: { version, expected: codeHash, actual },
            });
          }
          cache.set(codeHash, code);
          return code;
        })
        .finally(() => inFlight.delete(codeHash));
      inFlight.set(codeHash, pending);
    }
    return pending;
  };
  return async (tool) => {
    if ("code" in tool) return tool;
    return { code: await codeOf(tool.version, tool.codeHash), manifest: tool.manifest, hash: tool.version };
  };
}
