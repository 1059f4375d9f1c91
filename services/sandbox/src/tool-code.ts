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

/**
 * Fetches a registered version's code and manifest from the registry (`registry.code.get`). The
 * manifest is the one the registry admitted (and the operator reviewed): what the sandbox enforces.
 */
export type FetchCode = (
  version: string,
  codeHash: string,
) => Promise<{ code: string; manifest: ToolManifest }>;

export type ResolveTool = (tool: RequestedTool) => Promise<ResolvedTool>;

/** Registered manifests kept by version (a few hundred bytes each; versions are immutable). */
const MAX_MANIFESTS = 10_000;

/**
 * A registered tool runs with the code *and the manifest* the registry holds for its version, not
 * the manifest its caller sent beside the hash: a caller cannot widen a registered tool's network
 * hosts, secrets or limits by sending another manifest (docs/adr/0160, "one manifest at run time").
 * Code is cached by its hash (bytes-bounded), manifests by version; a miss on either is one fetch.
 */
export function toolResolver(cache: CodeCache, fetchCode: FetchCode): ResolveTool {
  const manifests = new Map<string, ToolManifest>();
  // Concurrent misses on one version share one fetch.
  const inFlight = new Map<string, Promise<{ code: string; manifest: ToolManifest }>>();
  const fetchVersion = (version: string, codeHash: string) => {
    let pending = inFlight.get(version);
    if (!pending) {
      pending = fetchCode(version, codeHash)
        .then((fetched) => {
          const actual = computeCodeHash(fetched.code);
          if (actual !== codeHash) {
            throw new InsituError(`the code fetched for ${version} does not hash to ${codeHash}`, {
              code: ErrorCode.toolCodeHashMismatch,
              category: ErrorCategory.system,
              details: { version, expected: codeHash, actual },
            });
          }
          cache.set(codeHash, fetched.code);
          manifests.delete(version);
          manifests.set(version, fetched.manifest);
          if (manifests.size > MAX_MANIFESTS) manifests.delete(manifests.keys().next().value as string);
          return fetched;
        })
        .finally(() => inFlight.delete(version));
      inFlight.set(version, pending);
    }
    return pending;
  };
  return async (tool) => {
    if ("code" in tool) return tool;
    const manifest = manifests.get(tool.version);
    const code = cache.get(tool.codeHash);
    if (manifest !== undefined && code !== undefined) return { code, manifest, hash: tool.version };
    const fetched = await fetchVersion(tool.version, tool.codeHash);
    return { code: fetched.code, manifest: fetched.manifest, hash: tool.version };
  };
}
