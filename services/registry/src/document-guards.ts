import type { ToolManifest } from "@insitu/tool-kit";

/**
 * The fields the library view relies on, per key kind. A stored value that lacks them (garbage
 * written under a key, a half-migrated record) is moved to the quarantine instead of breaking the
 * view — or the registry's start. Returns the reason, or undefined when usable.
 */
export function documentProblem(kind: string | undefined, value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const document = value as Record<string, unknown>;
  const text = (field: string) =>
    typeof document[field] === "string" && (document[field] as string).length > 0;
  const list = (field: string) => Array.isArray(document[field]);
  switch (kind) {
    case "version": {
      const manifest = document.manifest as Partial<ToolManifest> | undefined;
      if (!text("hash") || !text("name") || !text("createdAt"))
        return "version without hash, name or createdAt";
      if (typeof manifest !== "object" || manifest === null || typeof manifest.name !== "string")
        return "version without a manifest";
      if (!list("parents") || !list("evidence")) return "version without parents or evidence";
      return undefined;
    }
    case "vector":
      return text("model") &&
        list("vector") &&
        (document.vector as unknown[]).every((n) => typeof n === "number")
        ? undefined
        : "vector without model or numeric vector";
    case "pool":
      return text("taskId") && list("versions") ? undefined : "pool without taskId or versions";
    case "stats":
      return text("hash") && typeof document.calls === "number" && list("tasks") && list("recentCallIds")
        ? undefined
        : "stats without hash, calls, tasks or recentCallIds";
    case "task":
      return text("taskId") ? undefined : "task without taskId";
    case "review":
      return text("hash") &&
        text("name") &&
        ["pending", "approved", "rejected"].includes(document.state as string) &&
        list("permissions") &&
        list("decisions")
        ? undefined
        : "review without hash, name, a known state, permissions or decisions";
    case "snapshot":
    case "current": {
      const info = document.info as { number?: unknown } | undefined;
      return text("body") && typeof info?.number === "number"
        ? undefined
        : "snapshot without info.number or body";
    }
    default:
      return undefined;
  }
}

const isStringMap = (value: unknown): boolean =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  Object.values(value).every((item) => typeof item === "string");

/** What a snapshot body object must hold to be served (tools and aliases name → string, changes a list). */
export function snapshotBodyProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const body = value as Record<string, unknown>;
  if (!isStringMap(body.tools)) return "snapshot body without a tools map (name → hash)";
  if (!Array.isArray(body.changes)) return "snapshot body without a changes list";
  if (body.aliases !== undefined && !isStringMap(body.aliases)) return "snapshot body with a bad aliases map";
  return undefined;
}

/** What a large version's body object must hold: its code and its tests. */
export function versionBodyProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const body = value as Record<string, unknown>;
  if (typeof body.code !== "string") return "version body without code";
  if (!Array.isArray(body.tests)) return "version body without a tests list";
  return undefined;
}
