import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import type { ToolManifest } from "./manifest.js";
import type { ToolTestCase } from "./tool-tests.js";

/** `sha256:` + 64 hex digits. */
export const TOOL_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** What identifies a tool version: its manifest, its code and its tests. */
export interface ToolSource {
  manifest: ToolManifest;
  /** The TypeScript module, exactly as written (it exports `manifest` and a default `run`). */
  code: string;
  tests: ToolTestCase[];
}

/** An immutable tool version; the registry adds lineage, evidence and state around it. */
export interface ToolVersion extends ToolSource {
  /** {@link computeToolHash} of the source. */
  hash: string;
}

/**
 * The content hash of a tool version: sha256 over the canonical JSON of
 * `{code, manifest, tests}` (keys sorted, no whitespace). Same source ⇒ same hash, anywhere.
 */
export function computeToolHash(source: ToolSource): string {
  const canonical = canonicalJson({ code: source.code, manifest: source.manifest, tests: source.tests });
  return `sha256:${createHash("sha256").update(canonical).digest("hex")}`;
}

export function toToolVersion(source: ToolSource): ToolVersion {
  return { ...source, hash: computeToolHash(source) };
}

/** sha256 of a module's code alone (the type-check cache key). */
export function computeCodeHash(code: string): string {
  return `sha256:${createHash("sha256").update(code).digest("hex")}`;
}
